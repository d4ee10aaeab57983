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
import { makeModelCli } from "./make-model/cli.ts";

export { makeModel, type MakeModelOptions, type MakeModelResult } from "./make-model/model.ts";
export { parseScriptArg, parseScriptFile, type Script } from "./make-model/scripted.ts";

if (import.meta.main) makeModelCli(process.argv.slice(2));
