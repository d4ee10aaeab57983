#!/usr/bin/env bun
/**
 * Generates a random-weight model in the mlx-community layout, loadable by mlx-lm and by Ithaca's engine.
 *
 *   bun scripts/make-model.ts --arch llama|qwen3 --out DIR [--seed N] [--size tiny|small|qwen3-0.6b]
 *                             [--dtype float32|float16|bfloat16]
 *
 * Same arguments → byte-identical files. See scripts/make-model/model.ts.
 */
import { parseArgs } from "node:util";
import { ARCHES, MODEL_DTYPES, SIZE_NAMES, type Arch, type ModelDtype, type SizeName } from "./make-model/architectures.ts";
import { makeModel } from "./make-model/model.ts";

export { makeModel, type MakeModelOptions, type MakeModelResult } from "./make-model/model.ts";

const USAGE = `usage: bun scripts/make-model.ts --arch ${ARCHES.join("|")} --out DIR [--seed N] [--size ${SIZE_NAMES.join("|")}] [--dtype ${MODEL_DTYPES.join("|")}]`;

function fail(message: string): never {
  console.error(`make-model: ${message}\n${USAGE}`);
  process.exit(2);
}

function main(argv: string[]): void {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        arch: { type: "string" },
        out: { type: "string" },
        seed: { type: "string", default: "0" },
        size: { type: "string", default: "tiny" },
        dtype: { type: "string", default: "float32" },
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
  if (arch === undefined || !(ARCHES as readonly string[]).includes(arch)) fail(`--arch must be one of ${ARCHES.join(", ")}`);
  if (values.out === undefined || values.out === "") fail("--out is required");
  if (!(SIZE_NAMES as readonly string[]).includes(values.size)) fail(`--size must be one of ${SIZE_NAMES.join(", ")}`);
  if (!(MODEL_DTYPES as readonly string[]).includes(values.dtype)) fail(`--dtype must be one of ${MODEL_DTYPES.join(", ")}`);
  if (!/^-?\d+$/.test(values.seed) || !Number.isSafeInteger(Number(values.seed))) fail("--seed must be an integer");

  const result = makeModel({
    arch: arch as Arch,
    out: values.out,
    seed: Number(values.seed),
    size: values.size as SizeName,
    dtype: values.dtype as ModelDtype,
  });
  console.log(`wrote ${arch} ${values.size} ${values.dtype} (seed ${values.seed}, vocab ${result.vocabSize}) to ${result.dir}`);
}

if (import.meta.main) main(process.argv.slice(2));
