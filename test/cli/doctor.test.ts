/**
 * `ithaca doctor` and `/health` report a libmlxc whose MLX version differs from the pinned one, without refusing it
 * (issue 15, item 3). The real library paths are exercised by test/binary/ (bundled) and by hand with a stock mlx-c
 * (README, "A real mlx-c instead of the compatibility library"); here the probe's answer is given.
 */
import { describe, expect, test } from "bun:test";
import { describeLibrary } from "../../src/backends/mlx/library-probe.ts";
import { type DoctorReport, formatReport } from "../../src/cli/doctor.ts";

const foreign = {
  ok: true as const,
  path: "/opt/mlx-c/lib/libmlxc.so",
  source: "env" as const,
  mlxVersion: "0.31.1",
  pinnedMlxVersion: "0.32.4",
  gpu: false,
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
    });
  });

  test("doctor prints it as reported, not refused; a library that does not load is a problem", () => {
    const text = formatReport(report(describeLibrary(foreign)));
    expect(text).toContain("MLX C library   /opt/mlx-c/lib/libmlxc.so (env)");
    expect(text).toContain("MLX version     0.31.1 (differs from the pinned 0.32.4: reported, not refused)");
    expect(text).toContain("port            127.0.0.1:8000 in use (EADDRINUSE)");
    expect(text.split("\n").at(-1)).toBe("ok");
    const failed = describeLibrary({ ok: false, error: "no libmlxc", pinnedMlxVersion: "0.32.4" });
    const broken = formatReport(report(failed, false));
    expect(broken).toContain("MLX C library   NOT LOADED: no libmlxc");
    expect(broken.split("\n").at(-1)).toBe("problems found");
  });
});
