/**
 * `ithaca doctor` and `/health` report a libmlxc whose MLX version differs from the pinned one, without refusing it
 * (issue 15, item 3). The real library paths are exercised by test/binary/ (bundled) and by hand with a stock mlx-c
 * (README, "A real mlx-c instead of the compatibility library"); here the probe's answer is given. The BLAS behind the
 * library is named: classified from the mapped libraries, and, for this checkout's library, the one `ldd` shows.
 */
import { describe, expect, test } from "bun:test";
import { describeLibrary, probeMlxLibrary } from "../../src/backends/mlx/library-probe.ts";
import { classifyBlas } from "../../src/engine/blas.ts";
import { type DoctorReport, formatReport } from "../../src/cli/doctor.ts";

const foreign = {
  ok: true as const,
  path: "/opt/mlx-c/lib/libmlxc.so",
  source: "env" as const,
  mlxVersion: "0.31.1",
  pinnedMlxVersion: "0.32.4",
  gpu: false,
  blas: { kind: "reference" as const, library: "/opt/mlx/libblas-bd8a282c.so.3.10.0" },
};

function report(mlx: Record<string, unknown>, ok = true): DoctorReport {
  return {
    ithaca: "0.1.0",
    bun: "1.4.5",
    platform: "linux-x64",
    mode: "source",
    executable: "/usr/bin/bun",
    mlx,
    memory: { total_bytes: 8 * 1024 ** 3, available_bytes: 4 * 1024 ** 3, model_budget_bytes: 6 * 1024 ** 3 },
    home: { path: "/home/me/.ithaca", exists: true, writable: true },
    port: { host: "127.0.0.1", port: 8000, free: false, error: "EADDRINUSE" },
    ok,
  };
}

describe("a foreign MLX version", () => {
  test("/health's shape names it and says it differs from the pinned one", () => {
    expect(describeLibrary(foreign)).toEqual({
      ok: true,
      library: "/opt/mlx-c/lib/libmlxc.so",
      source: "env",
      mlx_version: "0.31.1",
      pinned_mlx_version: "0.32.4",
      matches_pinned: false,
      device: "cpu",
      blas: { kind: "reference", library: "/opt/mlx/libblas-bd8a282c.so.3.10.0" },
    });
  });

  test("doctor prints it as reported, not refused; a library that does not load is a problem", () => {
    const text = formatReport(report(describeLibrary(foreign)));
    expect(text).toContain("MLX C library   /opt/mlx-c/lib/libmlxc.so (env)");
    expect(text).toContain("MLX version     0.31.1 (differs from the pinned 0.32.4: reported, not refused)");
    expect(text).toContain("port            127.0.0.1:8000 in use (EADDRINUSE)");
    expect(text).toContain(
      "BLAS            reference (/opt/mlx/libblas-bd8a282c.so.3.10.0): float32 matmul is slow and batching barely helps",
    );
    expect(text.split("\n").at(-1)).toBe("ok");
    const failed = describeLibrary({ ok: false, error: "no libmlxc", pinnedMlxVersion: "0.32.4" });
    const broken = formatReport(report(failed, false));
    expect(broken).toContain("MLX C library   NOT LOADED: no libmlxc");
    expect(broken.split("\n").at(-1)).toBe("problems found");
  });
});

describe("the BLAS behind MLX", () => {
  test("classified from the mapped libraries", () => {
    const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    const vendored = "/v/site-packages/mlx_cpu.libs/libblas-bd8a282c.so.3.10.0";
    const openblas = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0";
    const alternative = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3";
    const netlib = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0";
    expect(classifyBlas([libc, vendored], "linux")).toEqual({ kind: "reference", library: vendored });
    expect(classifyBlas([libc, openblas], "linux")).toEqual({ kind: "openblas", library: openblas });
    expect(classifyBlas([libc, alternative], "linux")).toEqual({ kind: "openblas", library: alternative });
    expect(classifyBlas([netlib], "linux")).toEqual({ kind: "reference", library: netlib });
    expect(classifyBlas([libc], "linux")).toEqual({ kind: "other" });
    expect(classifyBlas([], "linux")).toEqual({ kind: "unknown" });
    expect(classifyBlas([vendored], "darwin")).toEqual({ kind: "accelerate" });
  });

  test.if(process.platform === "linux")(
    "the probe of this checkout's library names the BLAS ldd resolves",
    async () => {
      const probe = await probeMlxLibrary();
      if (!probe.ok) throw new Error(probe.error);
      const ldd = Bun.spawnSync(["ldd", probe.path]).stdout.toString();
      const expected = /libopenblas/.test(ldd) ? "openblas" : /libblas/.test(ldd) ? "reference" : "other";
      expect(probe.blas.kind).toBe(expected);
      expect(probe.blas.library).toBeDefined();
    },
  );
});
