/**
 * Loads the weights of a model directory in the mlx-community layout: `model.safetensors`, or shards listed in
 * `model.safetensors.index.json` (`weight_map: name -> file`, as mlx-lm's `save_model` writes it). Arrays are lazy
 * until the loader evaluates them.
 */
import { loadSafetensors, type MxArray } from "bun-ffi-mlx-bindings";
import { join } from "node:path";
import { readIndex, weightFiles } from "./files.ts";

/**
 * Loads all tensors of a model directory except those `drops` names (the architecture's `sanitize`:
 * architectures/), which are freed at once and exempt from the checks below. The caller owns the returned arrays.
 * @throws Error naming the file on an unreadable shard, a tensor present in two shards, or a tensor of the index's
 *   `weight_map` that its shard does not hold.
 */
export function loadWeights(dir: string, drops: (name: string) => boolean): Map<string, MxArray> {
  const all = new Map<string, MxArray>();
  try {
    for (const file of weightFiles(dir)) {
      for (const [name, arr] of loadSafetensors(file)) {
        if (drops(name) || all.has(name)) {
          arr.free();
          if (all.has(name)) throw new Error(`${file}: tensor '${name}' appears in two shards`);
          continue;
        }
        all.set(name, arr);
      }
    }
    const map = readIndex(dir);
    for (const [name, file] of Object.entries(map ?? {})) {
      if (!all.has(name) && !drops(name)) {
        throw new Error(`${join(dir, file)}: tensor '${name}' listed in model.safetensors.index.json is missing`);
      }
    }
    return all;
  } catch (err) {
    for (const a of all.values()) a.free();
    throw err;
  }
}
