/**
 * Loads the weights of a model directory in the mlx-community layout: `model.safetensors`, or shards listed in
 * `model.safetensors.index.json` (`weight_map: name -> file`). Arrays are lazy until the loader evaluates them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadSafetensors, type MxArray } from "bun-ffi-mlx-bindings";

/** The safetensors files of a model directory, in load order. @throws Error when there is none. */
export function weightFiles(dir: string): string[] {
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, string> }).weight_map;
    if (!map) throw new Error(`${index}: missing weight_map`);
    return [...new Set(Object.values(map))].sort().map((f) => join(dir, f));
  }
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return [single];
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/**
 * Loads all tensors of a model directory, dropping the ones mlx-lm's `sanitize` drops
 * (`*.rotary_emb.inv_freq`). The caller owns the returned arrays.
 * @throws Error naming the file on an unreadable shard, or a tensor present in two shards.
 */
export function loadWeights(dir: string): Map<string, MxArray> {
  const all = new Map<string, MxArray>();
  try {
    for (const file of weightFiles(dir)) {
      for (const [name, arr] of loadSafetensors(file)) {
        if (name.endsWith("rotary_emb.inv_freq") || all.has(name)) {
          arr.free();
          if (all.has(name)) throw new Error(`${file}: tensor '${name}' appears in two shards`);
          continue;
        }
        all.set(name, arr);
      }
    }
    return all;
  } catch (err) {
    for (const a of all.values()) a.free();
    throw err;
  }
}
