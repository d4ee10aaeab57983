#!/usr/bin/env bun
/**
 * One process against two ranks of an MLX ring on loopback (issue 17): the same greedy generation by the engine's
 * loop on the whole model in one process, and on two ranks (each its own process, ring over TCP on 127.0.0.1) in
 * pipeline and in tensor mode. Reports prefill and decode tokens/s and MLX peak memory per rank, as ratios to the
 * one process, and where a decode step's time goes: the collectives of one step timed alone (same shapes, same count)
 * against the whole step.
 *
 *   bun bench/distributed.ts [--size small --bits 0 | --model DIR ...] [--prompt-tokens 64] [--gen-tokens 32]
 *                            [--warmup-tokens 4] [--runs 3] [--comm-steps 50]
 *
 * Runs alternate the three setups; each number is the median over runs (rank 0's for speeds; each rank's memory).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { RankRun } from "./distributed/rank.ts";
import { intFlag, MODEL_OPTIONS, MODEL_USAGE, modelDirFromFlags } from "./tps/flags.ts";
import { buildPrompt, describeModel, writePrompt } from "./tps/inputs.ts";
import { describeMachine, formatMachine, loadAverage } from "./tps/machine.ts";
import { median } from "./tps/report.ts";

const REPO = join(import.meta.dir, "..");
const RANK = join(import.meta.dir, "distributed", "rank.ts");
const PYTHON = join(REPO, ".venv", "bin", "python");
type Setup = "single" | "pipeline" | "tensor";

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** Runs `setup` once: one process, or two ranks of a fresh ring. @returns every process's result, rank order. */
async function runSetup(setup: Setup, dir: string, work: string, args: string[]): Promise<RankRun[]> {
  const size = setup === "single" ? 1 : 2;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLX_")));
  let ringEnv: (rank: number) => Record<string, string> = () => ({});
  if (size > 1) {
    const hostfile = join(work, `hostfile-${setup}.json`);
    const ports = [await freePort(), await freePort()];
    writeFileSync(hostfile, JSON.stringify(ports.map((port) => [`127.0.0.1:${port}`])));
    ringEnv = (rank) => ({ MLX_HOSTFILE: hostfile, MLX_RANK: String(rank) });
  }
  const procs = Array.from({ length: size }, (_, rank) =>
    Bun.spawn([process.execPath, RANK, dir, setup, ...args], {
      cwd: REPO,
      env: { ...env, ...ringEnv(rank) },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 1_800_000,
      killSignal: "SIGKILL",
    }),
  );
  return Promise.all(
    procs.map(async (proc) => {
      const [out, err, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      if (code !== 0) throw new Error(`${setup} rank exited ${code}: ${err.slice(-2000)}`);
      return JSON.parse(out.trim().split("\n").at(-1) as string) as RankRun;
    }),
  );
}

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "—");

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...MODEL_OPTIONS,
      "prompt-tokens": { type: "string", default: "64" },
      "gen-tokens": { type: "string", default: "32" },
      "warmup-tokens": { type: "string", default: "4" },
      runs: { type: "string", default: "3" },
      "comm-steps": { type: "string", default: "50" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`usage: bun bench/distributed.ts ${MODEL_USAGE} [--prompt-tokens 64] [--gen-tokens 32] ...`);
    return;
  }
  const dir = modelDirFromFlags(REPO, values);
  const runs = intFlag("runs", values.runs, 1);
  const work = mkdtempSync(join(os.tmpdir(), "ithaca-distributed-"));
  try {
    const promptFile = join(work, "prompt.json");
    writePrompt(promptFile, buildPrompt(dir, intFlag("prompt-tokens", values["prompt-tokens"], 1)));
    const args = [
      promptFile,
      String(intFlag("gen-tokens", values["gen-tokens"], 2)),
      String(intFlag("warmup-tokens", values["warmup-tokens"])),
      String(intFlag("comm-steps", values["comm-steps"], 1)),
    ];
    const loadBefore = loadAverage();
    const results: Record<Setup, RankRun[][]> = { single: [], pipeline: [], tensor: [] };
    for (let i = 0; i < runs; i++) {
      for (const setup of ["single", "pipeline", "tensor"] as const) {
        console.error(`run ${i + 1}/${runs}: ${setup}`);
        results[setup].push(await runSetup(setup, dir, work, args));
      }
    }
    const machine = describeMachine(PYTHON);
    console.log(`machine: ${formatMachine(machine)}`);
    console.log(`versions: Bun ${machine.bun}, MLX ${machine.mlx} (CPU wheel), ring backend over TCP on 127.0.0.1`);
    console.log(`model: ${describeModel(dir)}`);
    console.log(`prompt ${values["prompt-tokens"]} tokens, ${values["gen-tokens"]} generated, ${runs} runs (medians)`);
    console.log(`load average before → after: ${loadBefore} → ${loadAverage()}\n`);
    const rank0 = (setup: Setup, pick: (r: RankRun) => number) =>
      median(results[setup].map((run) => pick(run[0] as RankRun)));
    const rankMem = (setup: Setup, rank: number) =>
      median(results[setup].map((run) => (run[rank]?.peakBytes ?? Number.NaN) / 2 ** 20));
    const single = { prefill: rank0("single", (r) => r.prefillTps), decode: rank0("single", (r) => r.decodeTps) };
    console.log(
      "| setup | prefill tok/s | × one process | decode tok/s | × one process | step ms | collectives ms/step (share) | peak MiB rank 0 | rank 1 |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const setup of ["single", "pipeline", "tensor"] as const) {
      const prefill = rank0(setup, (r) => r.prefillTps);
      const decode = rank0(setup, (r) => r.decodeTps);
      const step = rank0(setup, (r) => r.stepMs);
      const comm = rank0(setup, (r) => r.commMs);
      const share = setup === "single" ? "—" : `${f(comm, 2)} (${f((100 * comm) / step, 0)} %)`;
      console.log(
        `| ${setup === "single" ? "one process" : `2 ranks, ${setup}`} | ${f(prefill)} | ${f(prefill / single.prefill, 2)}× | ${f(decode)} | ` +
          `${f(decode / single.decode, 2)}× | ${f(step, 2)} | ${share} | ${f(rankMem(setup, 0))} | ${setup === "single" ? "—" : f(rankMem(setup, 1))} |`,
      );
    }
    const reference = results.single[0]?.[0]?.tokens ?? [];
    const same = (["pipeline", "tensor"] as const).map((setup) => {
      const firstDifference = Math.min(
        ...results[setup].flatMap((run) =>
          run.map((r) => {
            const at = r.tokens.findIndex((token, i) => token !== reference[i]);
            return at === -1 ? Number.POSITIVE_INFINITY : at;
          }),
        ),
      );
      return Number.isFinite(firstDifference)
        ? `${setup} NO (from generated token ${firstDifference}${setup === "tensor" ? ": all_sum rounds differently" : ""})`
        : `${setup} yes`;
    });
    console.log(`\ngreedy tokens identical to one process, every rank and run: ${same.join(", ")}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
