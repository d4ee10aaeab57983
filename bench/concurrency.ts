#!/usr/bin/env bun
/**
 * Concurrent streams, Ithaca vs `mlx_lm.server`, on the same generated model and the same prompts, in the same run
 * (issue 16 item 2).
 *
 *   bun bench/concurrency.ts [--size qwen3-0.6b] [--bits 4] [--concurrency 1,2,4,8,16] [--prompt-words 24]
 *                            [--gen-tokens 128] [--runs 2] [--arch qwen3] [--group-size 64] [--dtype D] [--seed 0]
 *                            [--model DIR] [--json FILE]
 *
 * Both servers run for the whole benchmark, each its own process on 127.0.0.1: Ithaca (`bun src/main.ts serve`,
 * `engine.max_active` = the largest concurrency) and `mlx_lm.server` from the project venv (its defaults: decode
 * concurrency 32, prompt concurrency 8). For each concurrency N and each run, one engine at a time (the order
 * alternates) gets N greedy streamed chat completions at once, each with its own prompt; the client times them as it
 * reads them. The table gives, per N, the aggregate decode throughput (every token after each request's first, over
 * the wall time from the first token of any request to the last one), the same with prefill (every token over the wall
 * time from the first request sent), the median time to first token and the median per-request decode rate, each
 * with the ratio Ithaca / mlx_lm.server, against issue 16's targets (aggregate ≥ 1.0× at every N; Ithaca at 8 streams
 * ≥ 3× its own single stream).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  aggregateDecodeTps,
  aggregateTps,
  decodeTps,
  promptText,
  type StreamResult,
  streamChat,
  ttftMs,
} from "./concurrency/streams.ts";
import { startServer } from "./prefix/server.ts";
import { startProc, stopAll } from "./proxy/procs.ts";
import { intFlag as int, MODEL_OPTIONS, MODEL_USAGE, modelDirFromFlags } from "./tps/flags.ts";
import { describeMachine, formatMachine, loadAverage } from "./tps/machine.ts";
import { describeModel } from "./tps/inputs.ts";
import { formatValue, median } from "./tps/report.ts";

const REPO = join(import.meta.dir, "..");
const PYTHON = join(REPO, ".venv", "bin", "python");
const USAGE = `usage: bun bench/concurrency.ts ${MODEL_USAGE}
       [--concurrency 1,2,4,8,16] [--prompt-words 24] [--gen-tokens 128] [--runs 2] [--json FILE]`;
const ENGINES = ["ithaca", "mlx_lm.server"] as const;
type Engine = (typeof ENGINES)[number];

interface Target {
  base: string;
  model: string;
}

/** One concurrency level, both engines: every run's requests. */
interface Level {
  streams: number;
  runs: Record<Engine, StreamResult[][]>;
}

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

async function startMlxLm(modelDir: string, workDir: string, maxTokens: number): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cmd = [PYTHON, "-m", "mlx_lm.server", "--model", modelDir, "--host", "127.0.0.1", "--port", String(port)];
  await startProc({
    name: "mlx_lm.server",
    cmd: [...cmd, "--max-tokens", String(maxTokens)],
    workDir,
    readyUrl: `${url}/health`,
    url,
    timeoutMs: 300_000,
  });
  return { base: `${url}/v1`, model: "default_model" };
}

/** N requests at once, prompts `first … first + N − 1`. */
const burst = (t: Target, streams: number, first: number, words: number, gen: number) =>
  Promise.all(
    Array.from({ length: streams }, (_, i) => streamChat(t.base, t.model, promptText(first + i, words), gen)),
  );

/** Medians of one engine at one level: per run (aggregates) and over every request of every run. */
interface Summary {
  aggregate: number;
  withPrefill: number;
  ttft: number;
  decode: number;
}

function summarize(runs: StreamResult[][]): Summary {
  const all = runs.flat();
  return {
    aggregate: median(runs.map(aggregateDecodeTps)),
    withPrefill: median(runs.map(aggregateTps)),
    ttft: median(all.map(ttftMs)),
    decode: median(all.map(decodeTps)),
  };
}

function table(levels: Level[]): { lines: string[]; verdicts: string[] } {
  const lines = [
    "| streams | aggregate decode tok/s Ithaca | mlx_lm.server | ratio | with prefill Ithaca | mlx_lm.server | ratio | " +
      "TTFT p50 ms Ithaca | mlx_lm.server | ratio | per-request decode tok/s Ithaca | mlx_lm.server | ratio |",
    `|---:${"|---:".repeat(12)}|`,
  ];
  const verdicts: string[] = [];
  for (const l of levels) {
    const a = summarize(l.runs.ithaca);
    const b = summarize(l.runs["mlx_lm.server"]);
    const r = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
    const cells = (["aggregate", "withPrefill", "ttft", "decode"] as const).map(
      (k) => `${formatValue(a[k])} | ${formatValue(b[k])} | ${r(a[k], b[k])}`,
    );
    lines.push(`| ${l.streams} | ${cells.join(" | ")} |`);
    const ok = a.aggregate >= b.aggregate;
    verdicts.push(
      `aggregate decode ≥ 1.0× mlx_lm.server at ${l.streams} streams: ${ok ? "yes" : "NO"} (${r(a.aggregate, b.aggregate)})`,
    );
  }
  const one = levels.find((l) => l.streams === 1);
  const eight = levels.find((l) => l.streams === 8);
  if (one && eight) {
    const x = summarize(eight.runs.ithaca).aggregate / summarize(one.runs.ithaca).aggregate;
    verdicts.push(
      `Ithaca's aggregate decode at 8 streams ≥ 3× its single stream: ${x >= 3 ? "yes" : "NO"} (${x.toFixed(2)}×)`,
    );
  }
  return { lines, verdicts };
}

/** Requests whose greedy text is the same on both engines, over every run of every level. */
function agreement(levels: Level[]): string {
  let same = 0;
  let total = 0;
  for (const l of levels) {
    l.runs.ithaca.forEach((run, r) => {
      run.forEach((x, i) => {
        total++;
        // mlx-lm's detokenizer drops the first token's leading space; Ithaca keeps it.
        if (x.text.trimStart() === l.runs["mlx_lm.server"][r]![i]!.text.trimStart()) same++;
      });
    });
  }
  return `${same}/${total}`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_OPTIONS,
      concurrency: { type: "string", default: "1,2,4,8,16" },
      "prompt-words": { type: "string", default: "24" },
      "gen-tokens": { type: "string", default: "128" },
      runs: { type: "string", default: "2" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const levels = values.concurrency.split(",").map((x) => int("concurrency", x, 1));
  const words = int("prompt-words", values["prompt-words"], 1);
  const gen = int("gen-tokens", values["gen-tokens"], 2);
  const runs = int("runs", values.runs, 1);
  const started = performance.now();
  const machine = describeMachine(PYTHON);
  const modelDir = modelDirFromFlags(REPO, values);
  const work = mkdtempSync(join(tmpdir(), "ithaca-concurrency-"));
  const maxStreams = Math.max(...levels);
  const results: Level[] = [];
  const loadBefore = loadAverage();
  let promptTokens = 0;
  try {
    const server = await startServer(REPO, modelDir, work, 300_000, { max_active: maxStreams, max_queue: maxStreams });
    const targets: Record<Engine, Target> = {
      ithaca: { base: `${server.url}/v1`, model: server.model },
      "mlx_lm.server": await startMlxLm(modelDir, work, gen),
    };
    for (const e of ENGINES) await burst(targets[e], 1, 0, words, 4); // warm-up: load, first compilation
    let next = 1;
    for (const streams of levels) {
      const level: Level = { streams, runs: { ithaca: [], "mlx_lm.server": [] } };
      for (let run = 0; run < runs; run++) {
        const order = run % 2 === 0 ? ENGINES : [...ENGINES].reverse();
        for (const e of order) {
          const t = performance.now();
          const rs = await burst(targets[e], streams, next, words, gen);
          level.runs[e].push(rs);
          promptTokens = rs[0]!.promptTokens;
          console.error(
            `${streams} streams, run ${run + 1}/${runs}, ${e}: aggregate decode ${aggregateDecodeTps(rs).toFixed(1)} tok/s, ` +
              `ttft p50 ${median(rs.map(ttftMs)).toFixed(0)} ms (${((performance.now() - t) / 1000).toFixed(1)} s)`,
          );
        }
        next += streams;
      }
      results.push(level);
    }
    await server.stop();
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  const { lines, verdicts } = table(results);
  const report = [
    "## concurrent streams: Ithaca vs mlx_lm.server",
    "",
    `- machine: ${formatMachine(machine)}`,
    `- load average before / after: ${loadBefore} → ${loadAverage()}`,
    `- versions: Bun ${machine.bun}, Python ${machine.python}, MLX ${machine.mlx}, mlx-lm ${machine.mlxLm}`,
    `- model: ${modelDir.startsWith(REPO) ? modelDir.slice(REPO.length + 1) : modelDir} — ${describeModel(modelDir)}`,
    `- each request: a ${words}-word prompt (${promptTokens} prompt tokens with the chat template), ${gen} tokens generated (greedy, streamed); median of ${runs} run(s) per level, engine order alternating`,
    `- greedy text identical across engines: ${agreement(results)} requests`,
    `- wall time: ${((performance.now() - started) / 1000).toFixed(0)} s`,
    "",
    ...lines,
    "",
    ...verdicts.map((v) => `- ${v}`),
  ];
  console.log(report.join("\n"));
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ machine, modelDir, words, gen, runs, levels: results }, null, 2)}\n`,
    );
    console.error(`wrote ${values.json}`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`concurrency: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  });
}
