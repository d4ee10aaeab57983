/**
 * The command line of the model generator (scripts/make-model.ts, `ithaca make-model` in the standalone binary):
 * options in, one model directory out. See scripts/make-model.ts for the options.
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
} from "./architectures.ts";
import { makeModel } from "./model.ts";
import { QUANT_BITS, QUANT_GROUP_SIZES, parseQuantOverride, type QuantOptions } from "./quantize.ts";
import { MAX_SCRIPT_ORDER, parseScriptArg, parseScriptFile, type Script } from "./scripted.ts";

const usage = (
  program: string,
) => `usage: ${program} --arch ${ARCHES.join("|")} --out DIR [--seed N] [--size ${SIZE_NAMES.join("|")}]
         [--dtype ${MODEL_DTYPES.join("|")}] [--rope ${ROPE_KINDS.join("|")}]
         [--bits ${QUANT_BITS.join("|")} [--group-size ${QUANT_GROUP_SIZES.join("|")}] [--quant-override PATH=float|PATH=BITS[/GROUP_SIZE]]...]
         [--shards N] [--script 'AFTER=>EMIT']... [--script-file FILE.json] [--script-order 1..${MAX_SCRIPT_ORDER}]`;

/** How the usage names the command (`bun scripts/make-model.ts`, `ithaca make-model`). */
let program = "bun scripts/make-model.ts";

function fail(message: string): never {
  console.error(`make-model: ${message}\n${usage(program)}`);
  process.exit(2);
}

const isInt = (s: string) => /^-?\d+$/.test(s) && Number.isSafeInteger(Number(s));

/**
 * Runs the generator's command line: parses `argv` (the options above), writes the model and prints one line.
 * Exits the process with status 2, after printing the usage, on a bad option or a model that cannot be made.
 * @param argv the arguments after the command
 * @param name how the usage names the command
 */
export function makeModelCli(argv: string[], name = "bun scripts/make-model.ts"): void {
  program = name;
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
    console.log(usage(program));
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
