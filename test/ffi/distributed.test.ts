/**
 * The distributed binding (mlx-c v0.6.0 `distributed_group.h`/`distributed.h`, `ffi/src/distributed.ts`) and the ring
 * configuration (`ffi/src/ring.ts`):
 * - 2 ranks on loopback, each its own Bun process (`distributed-rank.ts`), ring backend, free ports, a hostfile in a
 *   temporary directory: all_sum / all_max / all_min / all_gather on float32 and int32, send / recv / recv_like,
 *   checked against TypeScript references; once with the environment given at spawn, once set with setenv;
 * - a rank whose peer exits fails with MLX's error instead of hanging;
 * - bad hostfiles and ranks fail with a clear message within a deadline;
 * - in this process: the singleton group (no hostfile), the strict-init error, hostfile checks, setenv/getenv.
 * Every subprocess has a kill deadline and is killed in afterAll if still running.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  checkRingHostfile,
  Dtype,
  distributed,
  formatRingHostfile,
  liveArrays,
  MlxError,
  nativeEnv,
  ops,
  ringEnv,
  setNativeEnv,
  validateRingConfig,
} from "bun-ffi-mlx-bindings";
import { BUN, REPO, tempDir } from "../helpers/paths.ts";
import { freePort } from "../helpers/processes.ts";
import { type RankReport, rankInputs } from "./distributed-rank.ts";

const RANK_SCRIPT = join(import.meta.dir, "distributed-rank.ts");
const DEADLINE_MS = 20_000;
const running = new Set<Subprocess>();
afterAll(() => {
  for (const p of running) p.kill("SIGKILL");
});

/** This environment without any ring variables (a rank gets only those the test gives it). */
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== "MLX_HOSTFILE" && k !== "MLX_RANK"),
) as Record<string, string>;

interface RankRun {
  code: number | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** Runs `distributed-rank.ts args…` with `env` added, killed (SIGKILL) at {@link DEADLINE_MS}. */
async function runRank(args: string[], env: Record<string, string> = {}): Promise<RankRun> {
  const proc = Bun.spawn([BUN, RANK_SCRIPT, ...args], {
    cwd: REPO,
    env: { ...baseEnv, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: DEADLINE_MS,
    killSignal: "SIGKILL",
  });
  running.add(proc);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr, killed: proc.signalCode === "SIGKILL" };
  } finally {
    running.delete(proc);
  }
}

/** A 2-rank hostfile on two free loopback ports, in a new temporary directory. */
async function loopbackHostfile(): Promise<string> {
  const path = join(tempDir("ithaca-ring-"), "hostfile.json");
  const ports = new Set<number>();
  while (ports.size < 2) ports.add(await freePort());
  writeFileSync(path, formatRingHostfile([...ports].map((p) => [`127.0.0.1:${p}`])));
  return path;
}

const reports = (runs: RankRun[]): RankReport[] =>
  runs.map((r, rank) => {
    if (r.code !== 0) throw new Error(`rank ${rank} exited ${r.code}${r.killed ? " (killed)" : ""}: ${r.stderr}`);
    return JSON.parse(r.stdout) as RankReport;
  });

const zip2 = <T extends ArrayLike<number>>(a: T, b: T, f: (x: number, y: number) => number) =>
  Array.from({ length: a.length }, (_, i) => f(a[i]!, b[i]!));

/** Checks both ranks' reports against TypeScript references computed from {@link rankInputs}. */
function expectCollectives([r0, r1]: RankReport[]): void {
  const [a, b] = [rankInputs(0), rankInputs(1)];
  const sumF = zip2(a.f32, b.f32, (x, y) => Math.fround(x + y));
  const sumI = zip2(a.i32, b.i32, (x, y) => (x + y) | 0);
  for (const [rank, r] of [r0!, r1!].entries()) {
    expect(r.rank).toBe(rank);
    expect(r.size).toBe(2);
    expect(r.sumF32).toEqual(sumF);
    expect(r.maxF32).toEqual(zip2(a.f32, b.f32, Math.max));
    expect(r.minF32).toEqual(zip2(a.f32, b.f32, Math.min));
    expect(r.gatherF32).toEqual({ shape: [6, 5], data: [...a.f32, ...b.f32] });
    expect(r.sumBig).toEqual(zip2(a.big, b.big, (x, y) => Math.fround(x + y)));
    expect(r.sumScalar).toBe(2);
    expect(r.sumI32).toEqual(sumI);
    expect(r.maxI32).toEqual(zip2(a.i32, b.i32, Math.max));
    expect(r.minI32).toEqual(zip2(a.i32, b.i32, Math.min));
    expect(r.gatherI32).toEqual({ shape: [14], data: [...a.i32, ...b.i32] });
    expect(r.live).toBe(0);
  }
  expect(r1!.received).toEqual({ shape: [2, 4], dtype: Dtype.float32, data: [...a.message] });
  expect(r0!.received).toEqual({ shape: [3], dtype: Dtype.int32, data: [...b.reply] });
}

describe("2 ranks on loopback (ring)", () => {
  test("collectives and send/recv, ring variables given at spawn", async () => {
    const hostfile = await loopbackHostfile();
    const runs = await Promise.all([0, 1].map((r) => runRank(["collectives"], ringEnv(hostfile, r))));
    expectCollectives(reports(runs));
  }, 30_000);

  test("collectives and send/recv, ring variables set with setenv before init", async () => {
    const hostfile = await loopbackHostfile();
    const runs = await Promise.all([0, 1].map((r) => runRank(["collectives", hostfile, String(r)])));
    expectCollectives(reports(runs));
  }, 30_000);

  test("a rank whose peer has exited fails on recv with MLX's error, no hang", async () => {
    const hostfile = await loopbackHostfile();
    const [r0, r1] = await Promise.all([0, 1].map((r) => runRank(["peer-exits"], ringEnv(hostfile, r))));
    expect(r1!.code).toBe(0);
    expect(r0!.killed).toBe(false);
    expect(r0!.code).toBe(1);
    expect(r0!.stderr).toContain("mlx_array_eval: [ring] connection to a peer was lost");
  }, 30_000);
});

describe("bad ring configuration: a clear error, no hang", () => {
  const cases: [name: string, content: string | null, rank: string, message: string][] = [
    ["not JSON", '[["127.0.0.1:5000"],', "0", "not JSON"],
    ["no ranks (MLX would die of SIGFPE)", "[]", "0", "0 rank(s); a ring needs at least 2"],
    ["an address without a port", '[["127.0.0.1:5000"], ["127.0.0.1"]]', "0", 'rank 1: "127.0.0.1" is not "host:port"'],
    ["unequal address counts", '[["127.0.0.1:5000"], ["127.0.0.1:5001", "127.0.0.1:5002"]]', "0", "equal counts"],
    ["a rank outside the hostfile", '[["127.0.0.1:5000"], ["127.0.0.1:5001"]]', "2", 'rank "2" is not an integer'],
    ["a non-numeric rank (MLX would read 0)", '[["127.0.0.1:5000"], ["127.0.0.1:5001"]]', "one", 'rank "one"'],
    ["a missing file", null, "0", "cannot read"],
  ];
  test("each case exits 1 with its message within the deadline", async () => {
    const dir = tempDir("ithaca-ring-bad-");
    const runs = await Promise.all(
      cases.map(([, content, rank], i) => {
        const path = join(dir, `hostfile-${i}.json`);
        if (content !== null) writeFileSync(path, content);
        return runRank(["collectives"], { MLX_HOSTFILE: path, MLX_RANK: rank });
      }),
    );
    for (const [i, [name, , , message]] of cases.entries()) {
      const run = runs[i]!;
      expect({ name, killed: run.killed, code: run.code }).toEqual({ name, killed: false, code: 1 });
      expect(run.stderr).toContain(message);
    }
  }, 30_000);

  test("MLX's own error for a strict ring with MLX_RANK but no MLX_HOSTFILE", async () => {
    const run = await runRank(["collectives"], { MLX_RANK: "0" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("mlx_distributed_init: [ring] You need to provide via environment variables both");
  }, 30_000);
});

describe("in this process (no ring variables)", () => {
  test("the ring backend is available; no ring variables are set here", () => {
    expect(distributed.isDistributedAvailable("ring")).toBe(true);
    expect(distributed.isDistributedAvailable()).toBe(true);
    expect(nativeEnv("MLX_HOSTFILE")).toBeUndefined();
    expect(nativeEnv("MLX_RANK")).toBeUndefined();
  });

  test("a strict ring init without a hostfile throws MLX's message", () => {
    expect(() => distributed.initDistributed({ backend: "ring", strict: true })).toThrow(MlxError);
    expect(() => distributed.initDistributed({ backend: "ring", strict: true })).toThrow("MLX_HOSTFILE");
  });

  test("the singleton group: size 1, collectives are the identity, point-to-point is refused", () => {
    const before = liveArrays();
    const g = distributed.initDistributed();
    expect([g.rank, g.size]).toEqual([0, 1]);
    expect(distributed.initDistributed()).toBe(g);
    {
      const data = Float32Array.from([1.5, -2, 3.25, 8]);
      using x = ops.fromArray(data, [2, 2]);
      for (const f of [distributed.allSum, distributed.allMax, distributed.allMin, distributed.sumScatter]) {
        using y = f(x, g);
        expect(y.shape).toEqual([2, 2]);
        expect(y.toFloat32()).toEqual(data);
      }
      using i = ops.fromArray(Int32Array.from([7, -9, 11]), [3]);
      using gathered = distributed.allGather(i, g);
      expect(gathered.dtype).toBe(Dtype.int32);
      expect(Array.from(gathered.toInt32())).toEqual([7, -9, 11]);
      expect(() => distributed.send(x, 0, g)).toThrow("Cannot send to a singleton group");
      expect(() => distributed.recv([2], Dtype.float32, 0, g)).toThrow("Cannot recv from a singleton group");
      expect(() => distributed.recvLike(x, 0, g)).toThrow("Cannot recv from a singleton group");
      expect(() => g.split(0)).toThrow("Cannot split the distributed group further");
    }
    expect(liveArrays()).toBe(before);
  });

  test("hostfile checks", () => {
    const two = [["127.0.0.1:5000"], ["10.0.0.2:5000"]];
    expect(checkRingHostfile(two)).toBe(two);
    expect(JSON.parse(formatRingHostfile(two))).toEqual(two);
    expect(() => checkRingHostfile({ nodes: two })).toThrow("not a JSON array");
    expect(() => checkRingHostfile([["127.0.0.1:5000"]])).toThrow("1 rank(s)");
    expect(() => checkRingHostfile(["127.0.0.1:5000", "127.0.0.1:5001"])).toThrow("rank 0 is not a non-empty array");
    expect(() => checkRingHostfile([["127.0.0.1:0"], ["127.0.0.1:5001"]])).toThrow('"127.0.0.1:0"');
    expect(() => checkRingHostfile([["::1:5000"], ["::1:5001"]])).toThrow('"::1:5000"');
    const dir = tempDir("ithaca-ring-check-");
    const path = join(dir, "hostfile.json");
    writeFileSync(path, formatRingHostfile(two));
    expect(validateRingConfig(path, "1")).toEqual({ hostfile: path, nodes: two, rank: 1 });
    expect(validateRingConfig(path, 0).rank).toBe(0);
    expect(() => validateRingConfig(path, "-1")).toThrow('rank "-1" is not an integer in 0..1');
    expect(() => validateRingConfig(path, 1.5)).toThrow("rank 1.5 is not an integer");
    expect(ringEnv(path, 1)).toEqual({ MLX_HOSTFILE: path, MLX_RANK: "1" });
  });

  test("setNativeEnv reaches the C environment, which process.env does not", () => {
    const name = `ITHACA_TEST_ENV_${process.pid}`;
    process.env[name] = "js";
    expect(nativeEnv(name)).toBeUndefined();
    setNativeEnv(name, "native");
    expect(nativeEnv(name)).toBe("native");
    expect(() => setNativeEnv("A=B", "x")).toThrow("invalid name");
  });
});
