/** Repository paths the tests share: the Python venv made by `scripts/setup.sh`, Bun, and model generation. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Arch, ModelDtype, RopeKind, SizeName } from "../../scripts/make-model/architectures.ts";
import { makeModel as generateModel } from "../../scripts/make-model/model.ts";
import { parseQuantOverride } from "../../scripts/make-model/quantize.ts";
import type { Script } from "../../scripts/make-model/scripted.ts";

export const REPO = join(import.meta.dir, "..", "..");
/** Python of the project venv (mlx, mlx-lm). */
export const PYTHON = join(REPO, ".venv", "bin", "python");
/** The Bun running the tests. */
export const BUN = process.execPath;

/** A fresh temporary directory. */
export function tempDir(prefix = "ithaca-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Options of {@link makeModel}: those of `scripts/make-model.ts` (`--seed`, `--size`, `--dtype`, `--rope`, `--bits`,
 * `--group-size`, `--quant-override` (each `PATH=float|BITS[/GROUP_SIZE]`), `--shards`, `--script` (as
 * `{after, emit}` objects), `--script-order`). */
export interface TestModelOptions {
  seed?: number;
  size?: SizeName;
  dtype?: ModelDtype;
  rope?: RopeKind;
  bits?: number;
  groupSize?: number;
  quantOverrides?: string[];
  shards?: number;
  /** Makes a scripted model (scripts/make-model/scripted.ts); default size then "small". */
  scripts?: Script[];
  scriptOrder?: number;
}

/**
 * The Qwen3 weather conversation a scripted qwen3 model plays ({@link WEATHER_SCRIPTS}): with thinking on (prompt
 * ending `<|im_start|>assistant\n`) it thinks {@link WEATHER.think} and calls `get_weather` with `{"city": "Paris"}`,
 * in Qwen3's own layout (`<think>\n…\n</think>\n\n<tool_call>\n{json}\n</tool_call>`); with `enable_thinking:
 * false` (prompt ending `<think>\n\n</think>\n\n`) it answers {@link WEATHER.answer}.
 */
export const WEATHER = {
  think: "I should check the weather tool.",
  call: { name: "get_weather", arguments: { city: "Paris" } },
  answer: "It is sunny in Paris.",
  tools: [
    {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Current weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    },
  ],
};
/** The raw text of the tool-calling turn (what the model emits before `<|im_end|>`). */
export const WEATHER_CALL_TEXT = `<think>\n${WEATHER.think}\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`;
export const WEATHER_SCRIPTS: Script[] = [
  { after: "<|im_start|>assistant\n", emit: WEATHER_CALL_TEXT },
  { after: "<think>\n\n</think>\n\n", emit: WEATHER.answer },
];

const made = new Map<string, string>();

/**
 * Generates a model with scripts/make-model (in process) into a temp dir, once per argument set per test process.
 * @returns the model directory.
 */
export function makeModel(arch: Arch, opts: TestModelOptions = {}): string {
  const normalized = Object.fromEntries(
    Object.entries(opts)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const key = JSON.stringify([arch, normalized]);
  const cached = made.get(key);
  if (cached) return cached;
  const out = join(tempDir("ithaca-model-"), `${arch}-${opts.scripts ? "scripted-" : ""}${opts.seed ?? 0}`);
  if (opts.bits === undefined && (opts.groupSize !== undefined || opts.quantOverrides?.length))
    throw new Error("makeModel: groupSize / quantOverrides need bits");
  const groupSize = opts.groupSize ?? 64;
  generateModel({
    arch,
    out,
    seed: opts.seed ?? 0,
    size: opts.size,
    dtype: opts.dtype,
    rope: opts.rope,
    shards: opts.shards,
    scripts: opts.scripts,
    scriptOrder: opts.scriptOrder,
    quantization:
      opts.bits === undefined
        ? undefined
        : {
            bits: opts.bits,
            groupSize,
            overrides: Object.fromEntries((opts.quantOverrides ?? []).map((o) => parseQuantOverride(o, groupSize))),
          },
  });
  made.set(key, out);
  return out;
}

/** Runs a Python script with the project venv; returns stdout. @throws Error with stderr on a non-zero exit. */
export function runPython(script: string, args: string[]): string {
  const r = Bun.spawnSync([PYTHON, script, ...args], { cwd: REPO, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${script} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
