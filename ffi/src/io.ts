/**
 * Safetensors I/O through MLX (`mlx_load_safetensors`, `mlx_save_safetensors`).
 *
 * Loading is lazy: each tensor becomes an array whose data is read from the file when first evaluated. The key list
 * comes from the file's JSON header, parsed here (u64 little-endian length + JSON), because mlx-c's map iterators
 * return 16-byte structs that bun:ffi cannot express (reference/mlx-c-binding.md §1.4).
 */
import { ptr, type Pointer } from "bun:ffi";
import { openSync, readSync, closeSync } from "node:fs";
import { MxArray } from "./array.ts";
import { callOut, check, mlx } from "./runtime.ts";

const cstr = (s: string) => Buffer.from(`${s}\0`);

/** Tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Reads the JSON header of a safetensors file.
 * @returns tensors by name (without `__metadata__`) and the metadata strings.
 * @throws Error naming the file when the header is truncated or not JSON.
 */
export function readSafetensorsHeader(path: string): {
  tensors: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
} {
  const fd = openSync(path, "r");
  try {
    const lenBuf = Buffer.alloc(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new Error(`${path}: not a safetensors file (shorter than 8 bytes)`);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len <= 0 || len > 100 * 1024 * 1024) throw new Error(`${path}: implausible safetensors header length ${len}`);
    const json = Buffer.alloc(len);
    if (readSync(fd, json, 0, len, 8) !== len) throw new Error(`${path}: truncated safetensors header`);
    const parsed = JSON.parse(json.toString("utf8")) as Record<string, unknown>;
    const { __metadata__, ...tensors } = parsed;
    return {
      tensors: tensors as Record<string, SafetensorsEntry>,
      metadata: (__metadata__ ?? {}) as Record<string, string>,
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads every tensor of a safetensors file as a lazy MLX array. The caller owns the returned arrays.
 * @throws MlxError when MLX cannot open or parse the file.
 */
export function loadSafetensors(path: string): Map<string, MxArray> {
  const { tensors } = readSafetensorsHeader(path);
  const { S } = mlx();
  // MLX loads on the CPU stream (it forces CPU unless CUDA is available).
  const cpu = S.mlx_default_cpu_stream_new() as Pointer;
  const out = new Map<string, MxArray>();
  let map: Pointer | null = null;
  let meta: Pointer | null = null;
  try {
    // Pass allocated maps: mlx-c before v0.6 assigns into them rather than allocating.
    map = S.mlx_map_string_to_array_new() as Pointer;
    meta = S.mlx_map_string_to_string_new() as Pointer;
    const slots = new BigUint64Array(new ArrayBuffer(16));
    slots[0] = BigInt(map);
    slots[1] = BigInt(meta);
    check(S.mlx_load_safetensors(slots, ptr(slots, 8), cstr(path), cpu), "mlx_load_safetensors");
    for (const name of Object.keys(tensors)) {
      const h = callOut("mlx_map_string_to_array_get", S.mlx_map_string_to_array_get, map, cstr(name));
      out.set(name, new MxArray(h));
    }
    return out;
  } catch (err) {
    for (const a of out.values()) a.free();
    throw err;
  } finally {
    if (map) S.mlx_map_string_to_array_free(map);
    if (meta) S.mlx_map_string_to_string_free(meta);
    S.mlx_stream_free(cpu);
  }
}

/** Writes arrays to a safetensors file (evaluates them). @throws MlxError */
export function saveSafetensors(path: string, arrays: Map<string, MxArray>): void {
  const { S } = mlx();
  const map = S.mlx_map_string_to_array_new() as Pointer;
  const meta = S.mlx_map_string_to_string_new() as Pointer;
  try {
    for (const [name, a] of arrays)
      check(S.mlx_map_string_to_array_insert(map, cstr(name), a.handle), "mlx_map_string_to_array_insert");
    check(S.mlx_save_safetensors(cstr(path), map, meta), "mlx_save_safetensors");
  } finally {
    S.mlx_map_string_to_array_free(map);
    S.mlx_map_string_to_string_free(meta);
  }
}
