#!/usr/bin/env bun
/**
 * What Ithaca costs as a proxy: latency added and CPU per request, against a bare relay (the floor), in front of the
 * same fast fixture upstream, in the same run.
 *
 *   bun bench/proxy-overhead.ts [--requests 20000] [--warmup 1000] [--concurrency 1,8,64] [--litellm]
 *                               [--litellm-requests 1000] [--json FILE]
 *
 * Processes (each its own, killed at the end whatever happens):
 * - the fixture (`proxy/fixture-upstream.ts`): an OpenAI-compatible server answering at once with fixed bodies;
 * - the relay (`proxy/relay.ts`): `Bun.serve` + `fetch`, the body passed through untouched — the floor;
 * - Ithaca: `bun src/main.ts serve --config FILE` with one `openai-http` upstream, `fx`, on the fixture (model `fx:m`);
 * - with `--litellm`, LiteLLM's proxy (`proxy/litellm.ts`) with the fixture as an `openai/` model.
 * The load generator runs in this process. For each mode (non-stream, stream), each concurrency and each target in
 * turn (direct to the fixture first: the zero point), it sends `--warmup` requests, then `--requests` timed ones,
 * and reads the target's CPU time (utime + stime from /proc) before and after. With taskset and 2+ CPUs, this process
 * and the fixture are pinned to CPU 0 and every proxy to CPU 1, so a proxy never shares its CPU with the load.
 * Prints the machine, a markdown table and issue 11's targets with pass/fail.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuModel, loadAverage, osName } from "./tps/machine.ts";
import { LITELLM_MODEL, LITELLM_VERSION, ensureLitellm, startLitellm } from "./proxy/litellm.ts";
import { type Mode, percentile, requestBody, runLoad } from "./proxy/load.ts";
import {
  CLK_TCK,
  cpuSeconds,
  killAllNow,
  pinSelf,
  type Proc,
  startProc,
  stopAll,
  TASKSET,
  threadCpuSeconds,
} from "./proxy/procs.ts";
import { type Cell, checkTargets, formatChecks, markdownTable, relate, type TargetName } from "./proxy/report.ts";

const REPO = join(import.meta.dir, "..");
const VENV = join(import.meta.dir, ".venv-litellm");
const LISTENING = /listening on (http:\/\/\S+)/;
const USAGE =
  "usage: bun bench/proxy-overhead.ts [--requests 20000] [--warmup 1000] [--concurrency 1,8,64] [--litellm]\n" +
  "                                   [--litellm-requests 1000] [--json FILE]";
const LOAD_CPU = 0;
const PROXY_CPU = 1;

interface Target {
  name: TargetName;
  proc: Proc;
  /** OpenAI base URL (`…/v1`). */
  base: string;
  model: string;
  /** Timed and warm-up requests per row. */
  requests: number;
  warmup: number;
}

function fail(message: string): never {
  console.error(`proxy-overhead: ${message}\n${USAGE}`);
  process.exit(2);
}

function int(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

/** Ithaca's commit, `+dirty` when src/ differs from it (read-only: no index refresh). */
function commit(): string {
  const git = (...args: string[]) =>
    Bun.spawnSync(["git", "--no-optional-locks", ...args], { cwd: REPO, stdout: "pipe", stderr: "ignore" });
  const head = git("rev-parse", "--short=12", "HEAD");
  if (head.exitCode !== 0) return "unknown";
  const dirty = git("diff", "--quiet", "HEAD", "--", "src").exitCode !== 0;
  return `${head.stdout.toString().trim()}${dirty ? " + uncommitted changes in src/" : ""}`;
}

async function startIthaca(fixtureUrl: string, work: string): Promise<Proc> {
  const config = join(work, "ithaca.yaml");
  // JSON is YAML. Open mode, no local models, its SQLite home in the work directory.
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0 },
      home: join(work, "ithaca-home"),
      upstreams: [{ id: "fx", kind: "openai-http", base_url: `${fixtureUrl}/v1`, models: ["m"] }],
    }),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ITHACA_")));
  const proc = await startProc({
    name: "ithaca",
    cmd: [process.execPath, join(REPO, "src", "main.ts"), "serve", "--config", config],
    workDir: work,
    cpu: PROXY_CPU,
    env,
    listening: LISTENING,
  });
  return proc;
}

async function measure(targets: Target[], fixture: Proc, modes: Mode[], concurrencies: number[]): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const mode of modes) {
    for (const concurrency of concurrencies) {
      for (const t of targets) {
        const body = requestBody(t.model, mode);
        const { requests, warmup } = t;
        if (warmup > 0) await runLoad(t.base, body, mode, warmup, concurrency);
        const cpu0 = cpuSeconds(t.proc.pid);
        const threads0 = threadCpuSeconds(t.proc.pid);
        const fx0 = cpuSeconds(fixture.pid);
        const r = await runLoad(t.base, body, mode, requests, concurrency);
        const cpuUs = ((cpuSeconds(t.proc.pid) - cpu0) * 1e6) / requests;
        const threads1 = threadCpuSeconds(t.proc.pid);
        const fxUs = ((cpuSeconds(fixture.pid) - fx0) * 1e6) / requests;
        const cell: Cell = {
          target: t.name,
          mode,
          concurrency,
          requests,
          rps: requests / r.wallS,
          p50Ms: percentile(r.latenciesMs, 50),
          p99Ms: percentile(r.latenciesMs, 99),
          p50AddedMs: 0,
          p99AddedMs: 0,
          cpuUsPerReq: cpuUs,
          jsUsPerReq: ((threads1.js - threads0.js) * 1e6) / requests,
          httpClientUsPerReq: ((threads1.httpClient - threads0.httpClient) * 1e6) / requests,
          fixtureCpuUsPerReq: fxUs,
        };
        cells.push(cell);
        console.error(
          `${t.name.padEnd(7)} ${mode.padEnd(10)} c${String(concurrency).padEnd(3)} ${cell.rps.toFixed(0).padStart(6)} req/s, ` +
            `p50 ${cell.p50Ms.toFixed(3)} ms, p99 ${cell.p99Ms.toFixed(3)} ms, CPU ${cpuUs.toFixed(0)} µs/req (${r.wallS.toFixed(1)} s)`,
        );
      }
    }
  }
  return cells;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: "string", default: "20000" },
      warmup: { type: "string", default: "1000" },
      "litellm-requests": { type: "string", default: "1000" },
      concurrency: { type: "string", default: "1,8,64" },
      litellm: { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const requests = int("requests", values.requests, 1);
  const warmup = int("warmup", values.warmup, 0);
  const litellmRequests = int("litellm-requests", values["litellm-requests"], 1);
  const concurrencies = values.concurrency.split(",").map((c) => int("concurrency", c.trim(), 1));
  const modes: Mode[] = ["non-stream", "stream"];

  const started = performance.now();
  const loadBefore = loadAverage();
  const pinned = TASKSET !== null && pinSelf(LOAD_CPU);
  const pinning = TASKSET
    ? `taskset: load generator (this process${pinned ? "" : ": failed, not pinned"}) and fixture on CPU ${LOAD_CPU}, ` +
      `each proxy on CPU ${PROXY_CPU}`
    : "none (no taskset, or fewer than 2 CPUs)";
  const work = mkdtempSync(join(os.tmpdir(), "ithaca-proxy-"));
  const cleanUpNow = () => {
    killAllNow();
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (signal: string, status: number) => {
    console.error(`${signal}: stopping every server`);
    cleanUpNow();
    process.exit(status);
  };
  process.on("SIGINT", () => onSignal("SIGINT", 130));
  process.on("SIGTERM", () => onSignal("SIGTERM", 143));
  process.on("exit", () => killAllNow());

  let cells: Cell[];
  let litellmNote = "not run (pass --litellm)";
  try {
    const fixture = await startProc({
      name: "fixture",
      cmd: [process.execPath, join(import.meta.dir, "proxy", "fixture-upstream.ts")],
      workDir: work,
      cpu: LOAD_CPU,
      listening: LISTENING,
    });
    const relay = await startProc({
      name: "relay",
      cmd: [process.execPath, join(import.meta.dir, "proxy", "relay.ts"), "--upstream", fixture.url],
      workDir: work,
      cpu: PROXY_CPU,
      listening: LISTENING,
    });
    const ithaca = await startIthaca(fixture.url, work);
    const targets: Target[] = [
      { name: "direct", proc: fixture, base: `${fixture.url}/v1`, model: "m", requests, warmup },
      { name: "relay", proc: relay, base: `${relay.url}/v1`, model: "m", requests, warmup },
      { name: "ithaca", proc: ithaca, base: `${ithaca.url}/v1`, model: "fx:m", requests, warmup },
    ];
    if (values.litellm) {
      try {
        ensureLitellm(VENV);
        const litellm = await startLitellm(VENV, `${fixture.url}/v1`, work, PROXY_CPU);
        // LiteLLM serves ~100 requests/s here: fewer requests keep the run short (its CPU per request is large).
        const litellmWarmup = Math.min(warmup, Math.ceil(litellmRequests / 5));
        targets.push({
          name: "litellm",
          proc: litellm,
          base: `${litellm.url}/v1`,
          model: LITELLM_MODEL,
          requests: litellmRequests,
          warmup: litellmWarmup,
        });
        litellmNote =
          `litellm[proxy] ${LITELLM_VERSION} (uvicorn, 1 worker, no master key), venv ${VENV.slice(REPO.length + 1)}, ` +
          `${litellmRequests} timed requests per row after ${litellmWarmup} warm-up`;
      } catch (err) {
        litellmNote = `skipped: ${(err as Error).message.split("\n")[0]}`;
        console.error(`LiteLLM unavailable, continuing without it:\n${(err as Error).message}`);
      }
    }
    cells = await measure(targets, fixture, modes, concurrencies);
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  relate(cells);
  const checks = checkTargets(cells);
  const wallS = (performance.now() - started) / 1000;
  const machine = { cpu: cpuModel(), cores: os.cpus().length, memBytes: os.totalmem(), os: osName(), arch: os.arch() };
  const ithacaCommit = commit();
  const header = [
    "## Proxy overhead: Ithaca vs a bare relay",
    "",
    `- machine: ${machine.cpu}, ${machine.cores} logical CPUs, ${(machine.memBytes / 2 ** 30).toFixed(1)} GiB RAM, ${machine.os} (${machine.arch})`,
    `- Bun ${Bun.version}; Ithaca commit ${ithacaCommit}; LiteLLM: ${litellmNote}`,
    `- pinning: ${pinning}`,
    `- ${requests} timed requests per row after ${warmup} warm-up, closed loop, keep-alive; latency = request sent → last byte read`,
    `- CPU: utime + stime of the target's process tree from /proc, in ticks of ${(1000 / CLK_TCK).toFixed(0)} ms ` +
      `(± ${(1e6 / CLK_TCK / requests).toFixed(1)} µs/req at ${requests} requests)`,
    `- load average before → after: ${loadBefore} → ${loadAverage()}; wall time ${wallS.toFixed(0)} s`,
  ];
  console.log([...header, "", markdownTable(cells), "", "Targets (issue 11):", "", formatChecks(checks)].join("\n"));
  if (values.json) {
    const report = {
      machine,
      bun: Bun.version,
      commit: ithacaCommit,
      litellm: litellmNote,
      pinning,
      options: { requests, warmup, concurrencies, litellmRequests },
      loadBefore,
      wallS,
      cells,
      checks,
    };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    console.error(`wrote ${values.json}`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`proxy-overhead: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
