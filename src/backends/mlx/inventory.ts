/**
 * The on-disk model inventory of the local engine (`engine.models_dir`) and what a model directory costs in memory,
 * read with plain file I/O on the main thread (DESIGN §1: the main thread never calls MLX).
 *
 * - A model is a subdirectory (or a symlink to one) holding a `config.json`; its id is the directory name.
 * - Weight bytes are the sum of the tensor data spans in the safetensors headers (8-byte little-endian length, then
 *   JSON with `data_offsets` per tensor), over `model.safetensors` or the shards `model.safetensors.index.json` lists.
 * - The KV reserve estimate follows the engine's cache layout: keys and values of `kv_heads × head_dim` per layer and
 *   token, in the activation dtype (the dtype of the model's floating-point tensors).
 */
import { existsSync, statSync } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { readSafetensorsHeader } from "bun-ffi-mlx-bindings";
import { readModelConfig, weightFiles } from "../../engine/model/files.ts";
import { readChatTemplateSource } from "../../engine/chat-template.ts";
import { detectOutputFormat, outputCapabilities } from "../../engine/output/parser.ts";

/** Context the default KV reserve covers per concurrent generation, in tokens (capped by the model's context). */
export const DEFAULT_KV_RESERVE_TOKENS = 4096;

/** Bytes per element of the floating-point safetensors dtypes (what the KV cache is computed in). */
const FLOAT_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** What a model directory holds, as far as planning a load needs. */
export interface ModelFacts {
  /** `model_type` (`llama`, `qwen3`...). */
  arch: string;
  /** Affine quantization, when the model is quantized. */
  quantization?: { groupSize: number; bits: number };
  /** Activation dtype as a safetensors name (`F32`, `BF16`...). */
  dtype: string;
  /** Bytes of all weight tensors, from the safetensors headers. */
  weightBytes: number;
  /** KV cache bytes one token takes across all layers (keys and values). */
  kvBytesPerToken: number;
  /** `max_position_embeddings`, in tokens, when the config says. */
  contextLength?: number;
  vocabSize: number;
  /** Output capabilities of the chat template (`tools`, `thinking`). */
  capabilities: string[];
}

/** An inventory entry: a model directory found under `models_dir`. */
export interface InventoryModel {
  id: string;
  /** The directory as found (under `models_dir`; may be a symlink). */
  path: string;
  /** The directory with symlinks resolved (to match it against configured models). */
  realPath: string;
  /** Facts, or why they could not be read (the model is then listed but cannot be loaded). */
  facts: ModelFacts | { error: string };
}

/**
 * Reads the facts of a model directory.
 * @throws Error naming the file when `config.json` is missing or unsupported, or a safetensors header is unreadable.
 */
export function readModelFacts(dir: string): ModelFacts {
  const config = readModelConfig(dir);
  let weightBytes = 0;
  const dtypes = new Map<string, number>();
  for (const file of weightFiles(dir)) {
    for (const tensor of Object.values(readSafetensorsHeader(file).tensors)) {
      const [begin, end] = tensor.data_offsets;
      weightBytes += end - begin;
      if (FLOAT_BYTES[tensor.dtype] !== undefined) dtypes.set(tensor.dtype, (dtypes.get(tensor.dtype) ?? 0) + 1);
    }
  }
  const dtype = [...dtypes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "F16";
  const kvBytesPerToken = 2 * config.numLayers * config.numKvHeads * config.headDim * (FLOAT_BYTES[dtype] ?? 2);
  return {
    arch: config.arch,
    quantization: config.quantization,
    dtype,
    weightBytes,
    kvBytesPerToken,
    contextLength: config.maxPositionEmbeddings,
    vocabSize: config.vocabSize,
    capabilities: outputCapabilities(detectOutputFormat(readChatTemplateSource(dir) ?? "")),
  };
}

/**
 * The default KV reserve of a model: its KV bytes per token × min(context length, {@link DEFAULT_KV_RESERVE_TOKENS})
 * × `maxActive` concurrent generations.
 * @returns bytes
 */
export function defaultKvReserve(facts: ModelFacts, maxActive: number): number {
  const tokens = Math.min(facts.contextLength ?? DEFAULT_KV_RESERVE_TOKENS, DEFAULT_KV_RESERVE_TOKENS);
  return facts.kvBytesPerToken * tokens * maxActive;
}

/** Facts of model directories, re-read when `config.json` or a weight file changes. */
export class FactsCache {
  readonly #cache = new Map<string, { stamp: string; facts: ModelFacts | { error: string } }>();

  /** The facts of `dir`, or `{ error }` naming what could not be read. */
  get(dir: string): ModelFacts | { error: string } {
    const stamp = fileStamp(dir, FACT_FILES);
    const cached = this.#cache.get(dir);
    if (cached && cached.stamp === stamp) return cached.facts;
    let facts: ModelFacts | { error: string };
    try {
      facts = readModelFacts(dir);
    } catch (error) {
      facts = { error: error instanceof Error ? error.message : String(error) };
    }
    this.#cache.set(dir, { stamp, facts });
    return facts;
  }
}

/** The files facts are read from (a sharded model's shards are listed in the index). */
const FACT_FILES = ["config.json", "model.safetensors.index.json", "model.safetensors"];

/**
 * Modification times and sizes of the files `names` of `dir` that exist, as one string: a different string means a
 * file changed, appeared or went away.
 */
export function fileStamp(dir: string, names: string[]): string {
  const parts: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const info = statSync(path);
    parts.push(`${name}:${info.mtimeMs}:${info.size}`);
  }
  return parts.join("|");
}

/**
 * Lists the models under `modelsDir`, sorted by id. Entries whose name has whitespace (not a valid model id) or that
 * have no `config.json` are skipped; a missing `modelsDir` lists nothing.
 */
export async function scanModelsDir(modelsDir: string, facts: FactsCache): Promise<InventoryModel[]> {
  let names: string[];
  try {
    names = await readdir(modelsDir);
  } catch {
    return [];
  }
  const found: InventoryModel[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(".") || /\s/.test(name)) continue;
    const path = join(modelsDir, name);
    const isModel = await stat(join(path, "config.json")).then(
      (info) => info.isFile(),
      () => false,
    );
    if (!isModel) continue;
    found.push({ id: name, path, realPath: await realpath(path), facts: facts.get(path) });
  }
  return found;
}
