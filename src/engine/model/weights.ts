/**
 * Loads the weights of a model directory in the mlx-community layout: `model.safetensors`, or shards listed in
 * `model.safetensors.index.json` (`weight_map: name -> file`, as mlx-lm's `save_model` writes it). Arrays are lazy
 * until the loader evaluates them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadSafetensors, type MxArray } from "bun-ffi-mlx-bindings";

/** The `weight_map` of `model.safetensors.index.json`, or undefined when the model is one file. */
function readIndex(dir: string): Record<string, string> | undefined {
  const index = join(dir, "model.safetensors.index.json");
  if (!existsSync(index)) return undefined;
  let map: unknown;
  try {
    map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new Error(`${index}: ${(err as Error).message}`);
  }
  if (!map || typeof map !== "object" || Array.isArray(map)) throw new Error(`${index}: missing weight_map`);
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== "string" || file.includes("/") || !file.endsWith(".safetensors")) {
      throw new Error(`${index}: weight_map.${name}: ${JSON.stringify(file)} is not a safetensors file name`);
    }
  }
  return map as Record<string, string>;
}

/** The safetensors files of a model directory, in load order. @throws Error when there is none. */
export function weightFiles(dir: string): string[] {
  const map = readIndex(dir);
  if (map) return [...new Set(Object.values(map))].sort().map((f) => join(dir, f));
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return [single];
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

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
