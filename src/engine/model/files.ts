/**
 * The files of a model directory in the mlx-community layout, read without MLX (the main thread lists models with
 * them): `config.json` (+ `generation_config.json`) and the safetensors files, single or sharded with
 * `model.safetensors.index.json`. Follows mlx-lm's `utils.load_config` and `load_model`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "./config.ts";

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads `config.json`, with `eos_token_id` taken from `generation_config.json` when that file sets one (as
 * mlx-lm's `load_config` does).
 */
export function readModelConfig(dir: string): ReturnType<typeof parseModelConfig> {
  const raw = readJson(join(dir, "config.json"));
  const genPath = join(dir, "generation_config.json");
  if (raw && typeof raw === "object" && existsSync(genPath)) {
    let gen: unknown;
    try {
      gen = JSON.parse(readFileSync(genPath, "utf8"));
    } catch {
      gen = undefined; // mlx-lm ignores an unreadable generation_config.json
    }
    const eos = (gen as { eos_token_id?: unknown } | undefined)?.eos_token_id;
    if (eos !== undefined && eos !== null && eos !== false && eos !== 0 && !(Array.isArray(eos) && eos.length === 0)) {
      (raw as Record<string, unknown>).eos_token_id = eos;
    }
  }
  return parseModelConfig(raw);
}

/**
 * The `weight_map` of `model.safetensors.index.json`, or undefined when the model is one file.
 * @throws Error naming the index when it is unreadable or names something that is not a safetensors file.
 */
export function readIndex(dir: string): Record<string, string> | undefined {
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
