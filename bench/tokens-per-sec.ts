#!/usr/bin/env bun
/**
 * Tokens per second, Ithaca vs mlx-lm, on the same generated model and the same prompt ids, in the same run.
 *
 *   bun bench/tokens-per-sec.ts [--size qwen3-0.6b] [--bits 4] [--prompt-tokens 512] [--gen-tokens 128] [--runs 3]
 *                               [--arch qwen3] [--group-size 64] [--dtype D] [--seed 0] [--model DIR]
 *                               [--warmup-tokens 8] [--prefill-step-size 2048] [--upcast-quantized-scales]
 *                               [--matmul-streams auto|N] [--json FILE]
 *
 * Each measurement is one child process per engine (`bench/ithaca_tps.ts`, `bench/mlx_lm_tps.py`): load, an untimed
 * warm-up generation on the same prompt, then the timed greedy generation. Children run one at a time, so the two
 * engines never share the CPU and each peak RSS is that engine's own; the order alternates every round. The table shows
 * medians over `--runs` rounds and the ratio Ithaca / mlx-lm against the targets of issue 3 (decode ≥ 1.0×,
 * prefill ≥ 1.0×, peak RSS ≤ 1.1×). `--bits 0` benchmarks the unquantized model; `--model DIR` any model directory
 * in the mlx-community layout instead of a generated one. Ithaca runs with the server's `engine.matmul_streams`
 * (`auto` unless `--matmul-streams` says otherwise): `--matmul-streams 1` compares the engines on one thread each.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { intFlag as int, matmulStreamsFlag, MODEL_OPTIONS, MODEL_USAGE, modelDirFromFlags } from "./tps/flags.ts";
import { describeMachine, formatMachine, loadAverage } from "./tps/machine.ts";
import { buildPrompt, describeModel, writePrompt } from "./tps/inputs.ts";
import { markdownTable, METRICS, summarize, tokenAgreement } from "./tps/report.ts";
import { childArgs, type ChildOptions, type EngineRun } from "./tps/result.ts";
import { DEFAULT_ENGINE } from "../src/backends/mlx/engine-settings.ts";

const REPO = join(import.meta.dir, "..");
const PYTHON = join(REPO, ".venv", "bin", "python");
type Engine = EngineRun["engine"];
const USAGE = `usage: bun bench/tokens-per-sec.ts ${MODEL_USAGE}
       [--prompt-tokens 512] [--gen-tokens 128] [--runs 3] [--warmup-tokens 8] [--prefill-step-size 2048]
       [--upcast-quantized-scales] [--matmul-streams auto|N] [--json FILE]`;

function fail(message: string): never {
  console.error(`tokens-per-sec: ${message}\n${USAGE}`);
  process.exit(2);
}

/** Runs one engine's child and parses the JSON line it prints. @throws Error with the child's stderr on failure. */
function runChild(engine: Engine, opts: ChildOptions, upcast: boolean, streams: string): EngineRun {
  const cmd =
    engine === "ithaca"
      ? [
          process.execPath,
          join(REPO, "bench", "ithaca_tps.ts"),
          ...childArgs(opts),
          ...(upcast ? ["--upcast-quantized-scales"] : []),
          "--matmul-streams",
          streams,
        ]
      : [PYTHON, join(REPO, "bench", "mlx_lm_tps.py"), ...childArgs(opts)];
  const r = Bun.spawnSync(cmd, { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${engine} child exited ${r.exitCode}:\n${r.stderr.toString()}`);
  const last = r.stdout.toString().trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as EngineRun;
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_OPTIONS,
      "prompt-tokens": { type: "string", default: "512" },
      "gen-tokens": { type: "string", default: "128" },
      runs: { type: "string", default: "3" },
      "warmup-tokens": { type: "string", default: "8" },
      "prefill-step-size": { type: "string", default: "2048" },
      // Ithaca only: engine.upcast_quantized_scales (bf16/f16 scales as float32; mlx-lm keeps them).
      "upcast-quantized-scales": { type: "boolean", default: false },
      // Ithaca only: engine.matmul_streams (quantized matmuls spread over CPU threads; mlx-lm runs them on one).
      "matmul-streams": { type: "string", default: String(DEFAULT_ENGINE.matmul_streams) },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const promptTokens = int("prompt-tokens", values["prompt-tokens"], 1);
  const genTokens = int("gen-tokens", values["gen-tokens"], 2);
  const runs = int("runs", values.runs, 1);

  const started = performance.now();
  const machine = describeMachine(PYTHON);
  const modelDir = modelDirFromFlags(REPO, values);
  const work = mkdtempSync(join(tmpdir(), "ithaca-tps-"));
  const promptFile = join(work, "prompt.json");
  writePrompt(promptFile, buildPrompt(modelDir, promptTokens));
  const streams = values["matmul-streams"];
  const streamCount = matmulStreamsFlag(streams);
  const opts: ChildOptions = {
    model: modelDir,
    promptFile,
    genTokens,
    warmupTokens: int("warmup-tokens", values["warmup-tokens"]),
    prefillStepSize: int("prefill-step-size", values["prefill-step-size"], 1),
  };

  const loadBefore = loadAverage();
  const results: Record<Engine, EngineRun[]> = { ithaca: [], "mlx-lm": [] };
  try {
    for (let round = 0; round < runs; round++) {
      const order: Engine[] = round % 2 === 0 ? ["ithaca", "mlx-lm"] : ["mlx-lm", "ithaca"];
      for (const engine of order) {
        const t = performance.now();
        const r = runChild(engine, opts, values["upcast-quantized-scales"] === true, streams);
        results[engine].push(r);
        console.error(
          `round ${round + 1}/${runs} ${engine}: prefill ${r.prefill_tps.toFixed(1)} tok/s, decode ${r.decode_tps.toFixed(2)} tok/s, ` +
            `ttft ${(r.ttft_s * 1000).toFixed(0)} ms, peak RSS ${(r.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB (${((performance.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const wallS = (performance.now() - started) / 1000;

  const rows = summarize(METRICS, results.ithaca, results["mlx-lm"]);
  const mlxVersions = new Set([...results.ithaca, ...results["mlx-lm"]].map((r) => r.mlx_version));
  const header = [
    `## tokens/s: Ithaca vs mlx-lm`,
    ``,
    `- machine: ${formatMachine(machine)}`,
    `- load average before / after: ${loadBefore} → ${loadAverage()}`,
    `- versions: Bun ${machine.bun}, Python ${machine.python}, MLX ${machine.mlx} (engines report ${[...mlxVersions].join(", ")}), mlx-lm ${machine.mlxLm}`,
    `- model: ${modelDir.startsWith(REPO) ? modelDir.slice(REPO.length + 1) : modelDir} — ${describeModel(modelDir)}`,
    `- prompt ${promptTokens} tokens, ${genTokens} generated (greedy), prefill step ${opts.prefillStepSize}, warm-up ${opts.warmupTokens} tokens; median of ${runs} run(s) per engine, order alternating`,
    `- Ithaca's quantization scales: ${values["upcast-quantized-scales"] ? "upcast to float32 (engine.upcast_quantized_scales)" : "as stored (mlx-lm's too)"}`,
    `- Ithaca's quantized matmuls: spread over ${streamCount} CPU stream(s) (engine.matmul_streams ${streams}; mlx-lm: one)`,
    `- greedy tokens identical across engines: ${tokenAgreement([...results.ithaca, ...results["mlx-lm"]], (r) => r.engine)}`,
    `- wall time: ${wallS.toFixed(0)} s`,
  ];
  const met = rows.filter((r) => r.met !== undefined);
  const noise = met.filter((r) => r.withinNoise).length;
  const verdict = `targets met: ${met.filter((r) => r.met).length}/${met.length}${noise ? ` (${noise} missed by less than the run spread)` : ""}`;
  console.log([...header, "", markdownTable(rows, ["Ithaca", "mlx-lm"]), "", verdict].join("\n"));

  if (values.json) {
    const report = {
      machine,
      loadBefore,
      modelDir,
      options: { ...opts, promptTokens, runs },
      wallS,
      rows,
      runs: results,
    };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    console.error(`wrote ${values.json}`);
  }
}

if (import.meta.main) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    fail((err as Error).message);
  }
}
