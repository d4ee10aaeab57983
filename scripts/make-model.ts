#!/usr/bin/env bun
/**
 * Generates a random-weight model in the mlx-community layout, loadable by mlx-lm and by Ithaca's engine.
 *
 *   bun scripts/make-model.ts --arch llama|mistral|qwen2|qwen3 --out DIR [--seed N] [--size tiny|small|qwen3-0.6b]
 *                             [--dtype float32|float16|bfloat16] [--rope default|linear|llama3|yarn]
 *                             [--bits 2|3|4|5|6|8 [--group-size 32|64|128] [--quant-override PATH=float|BITS[/GS]]...]
 *                             [--shards N] [--script 'AFTER=>EMIT']... [--script-file FILE.json] [--script-order N]
 *
 * `--bits` quantizes as `mlx_lm.convert -q` (MLX's own quantize op); `--quant-override` adds per-module entries
 * to the config `quantization` block (e.g. `lm_head=8`, `model.layers.0.mlp.down_proj=float`); `--shards N` writes
 * N safetensors files and `model.safetensors.index.json`. Same arguments → byte-identical files.
 * `--script` / `--script-file` (a JSON array of `{"after", "emit"}`) make a scripted model: greedy decoding emits EMIT,
 * then the end-of-turn token, after a prompt ending in AFTER (`\n`, `\t`, `\r`, `\\` escapes in `--script`); it
 * conditions on the last `--script-order` tokens (default 3) and defaults to `--size small`.
 * See scripts/make-model/model.ts and scripts/make-model/scripted.ts.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  ARCHES,
  MODEL_DTYPES,
  ROPE_KINDS,
  SIZE_NAMES,
  type Arch,
  type ModelDtype,
  type RopeKind,
  type SizeName,
} from "./make-model/architectures.ts";
import { makeModel } from "./make-model/model.ts";
import { QUANT_BITS, QUANT_GROUP_SIZES, parseQuantOverride, type QuantOptions } from "./make-model/quantize.ts";
import { MAX_SCRIPT_ORDER, parseScriptArg, parseScriptFile, type Script } from "./make-model/scripted.ts";

export { makeModel, type MakeModelOptions, type MakeModelResult } from "./make-model/model.ts";
export { parseScriptArg, parseScriptFile, type Script } from "./make-model/scripted.ts";

const USAGE = `usage: bun scripts/make-model.ts --arch ${ARCHES.join("|")} --out DIR [--seed N] [--size ${SIZE_NAMES.join("|")}]
         [--dtype ${MODEL_DTYPES.join("|")}] [--rope ${ROPE_KINDS.join("|")}]
         [--bits ${QUANT_BITS.join("|")} [--group-size ${QUANT_GROUP_SIZES.join("|")}] [--quant-override PATH=float|PATH=BITS[/GROUP_SIZE]]...]
         [--shards N] [--script 'AFTER=>EMIT']... [--script-file FILE.json] [--script-order 1..${MAX_SCRIPT_ORDER}]`;

function fail(message: string): never {
  console.error(`make-model: ${message}\n${USAGE}`);
  process.exit(2);
}

const isInt = (s: string) => /^-?\d+$/.test(s) && Number.isSafeInteger(Number(s));

function main(argv: string[]): void {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        arch: { type: "string" },
        out: { type: "string" },
        seed: { type: "string", default: "0" },
        size: { type: "string" },
        dtype: { type: "string", default: "float32" },
        rope: { type: "string" },
        bits: { type: "string" },
        "group-size": { type: "string", default: "64" },
        "quant-override": { type: "string", multiple: true, default: [] },
        shards: { type: "string", default: "1" },
        script: { type: "string", multiple: true, default: [] },
        "script-file": { type: "string" },
        "script-order": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const arch = values.arch;
  if (arch === undefined || !(ARCHES as readonly string[]).includes(arch))
    fail(`--arch must be one of ${ARCHES.join(", ")}`);
  if (values.out === undefined || values.out === "") fail("--out is required");
  if (values.size !== undefined && !(SIZE_NAMES as readonly string[]).includes(values.size))
    fail(`--size must be one of ${SIZE_NAMES.join(", ")}`);
  if (!(MODEL_DTYPES as readonly string[]).includes(values.dtype))
    fail(`--dtype must be one of ${MODEL_DTYPES.join(", ")}`);
  if (values.rope !== undefined && !(ROPE_KINDS as readonly string[]).includes(values.rope))
    fail(`--rope must be one of ${ROPE_KINDS.join(", ")}`);
  if (!isInt(values.seed)) fail("--seed must be an integer");
  if (!isInt(values.shards) || Number(values.shards) < 1) fail("--shards must be a positive integer");

  let quantization: QuantOptions | undefined;
  const groupSize = Number(values["group-size"]);
  if (!QUANT_GROUP_SIZES.includes(groupSize)) fail(`--group-size must be one of ${QUANT_GROUP_SIZES.join(", ")}`);
  if (values.bits !== undefined) {
    const bits = Number(values.bits);
    if (!QUANT_BITS.includes(bits)) fail(`--bits must be one of ${QUANT_BITS.join(", ")}`);
    const overrides: NonNullable<QuantOptions["overrides"]> = {};
    for (const text of values["quant-override"]) {
      try {
        const [path, params] = parseQuantOverride(text, groupSize);
        (overrides as Record<string, unknown>)[path] = params;
      } catch (e) {
        fail((e as Error).message);
      }
    }
    quantization = { bits, groupSize, overrides };
  } else if (values["quant-override"].length > 0) {
    fail("--quant-override needs --bits");
  }

  let scripts: Script[] | undefined;
  try {
    const fromFile =
      values["script-file"] === undefined
        ? []
        : parseScriptFile(readFileSync(values["script-file"], "utf8"), values["script-file"]);
    const all = [...values.script.map(parseScriptArg), ...fromFile];
    if (all.length > 0) scripts = all;
  } catch (e) {
    fail((e as Error).message);
  }
  if (values["script-order"] !== undefined && (!isInt(values["script-order"]) || scripts === undefined))
    fail("--script-order must be an integer and needs --script or --script-file");

  let result;
  try {
    result = makeModel({
      arch: arch as Arch,
      out: values.out,
      seed: Number(values.seed),
      size: values.size as SizeName,
      dtype: values.dtype as ModelDtype,
      rope: values.rope as RopeKind | undefined,
      quantization,
      shards: Number(values.shards),
      scripts,
      scriptOrder: values["script-order"] === undefined ? undefined : Number(values["script-order"]),
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const q = quantization ? `, ${quantization.bits}-bit g${quantization.groupSize}` : "";
  const size = values.size ?? (scripts ? "small" : "tiny");
  const scripted = result.script
    ? `, scripted: ${result.script.plan.transitions.length} transitions, order ${result.script.plan.order}`
    : "";
  console.log(
    `wrote ${arch} ${size} ${values.dtype}${q}${scripted} (seed ${values.seed}, vocab ${result.vocabSize}) to ${result.dir}`,
  );
}

if (import.meta.main) main(process.argv.slice(2));
