/**
 * Per-layer KV cache, preallocated in steps of 256 positions and updated in place, as mlx-lm's `KVCache`
 * (`mlx_lm/models/cache.py`). Keys and values are `[B, n_kv_heads, capacity, head_dim]`; `offset` is the number of
 * valid positions.
 */
import { type MxArray, ops } from "bun-ffi-mlx-bindings";

/** Growth step in positions (mlx-lm `KVCache.step`). */
export const KV_STEP = 256;

/**
 * What one forward pass's attention needs from the caches, for `L` new positions: the mask (`"causal"`, bottom-right
 * aligned; a boolean array `[B, 1, L, cached + L]`, true where a query may attend; or none) and the RoPE start
 * positions (one number, or int32 `[B]` per batch row). Arrays are owned by the forward pass that asked for them.
 */
export interface AttentionInputs {
  mask: "causal" | MxArray | undefined;
  offset: number | MxArray;
}

/** One decoder layer's cache as the decoder uses it: {@link KVCache} (one sequence) or `BatchKVCache` (a batch). */
export interface LayerCache {
  /** Appends `k`, `v` (`[B, Hkv, L, d]`) and returns every cached position's keys and values (caller-owned views). */
  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray];
  /** Mask and RoPE offsets for the next `L` positions (mlx-lm `create_attention_mask` / `cache.offset`). */
  attentionInputs(L: number): AttentionInputs;
}

export class KVCache implements LayerCache {
  keys: MxArray | undefined;
  values: MxArray | undefined;
  /** Number of cached positions (tokens). */
  offset = 0;

  /**
   * Appends `k`, `v` (`[B, Hkv, L, d]`) at `offset` and returns views of all cached positions `[B, Hkv, offset+L, d]`
   * (owned by the caller). The old buffers are released before the update is evaluated, so MLX can donate them and
   * write in place instead of copying the cache every step.
   */
  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const fetched = writeKv(this, this.offset, k, v);
    this.offset += k.shape[2]!;
    return fetched;
  }

  /** mlx-lm's single-sequence mask: `"causal"` for a chunk of several tokens, none for one; RoPE from `offset`. */
  attentionInputs(L: number): AttentionInputs {
    return { mask: L > 1 ? "causal" : undefined, offset: this.offset };
  }

  /** The arrays to evaluate after a prefill chunk (mlx-lm evaluates `cache.state`). */
  state(): MxArray[] {
    return this.keys && this.values ? [this.keys, this.values] : [];
  }

  /** Bytes held by the buffers (capacity, not just `offset`). */
  get nbytes(): number {
    return (this.keys?.nbytes ?? 0) + (this.values?.nbytes ?? 0);
  }

  /**
   * A cache holding the first `n` positions of `source` (shared prefix reuse). The new cache starts as views of the
   * source's buffers; its first update copies them into its own buffer (MLX never writes into a buffer another array
   * still uses), so the source stays valid and unchanged.
   * @throws Error when `n` exceeds the source's offset
   */
  static prefixOf(source: KVCache, n: number): KVCache {
    if (n > source.offset) throw new Error(`prefix of ${n} positions from a cache holding ${source.offset}`);
    const copy = new KVCache();
    if (n === 0 || !source.keys || !source.values) return copy;
    const [B, H, , dk] = source.keys.shape as [number, number, number, number];
    const dv = source.values.shape[3]!;
    copy.keys = ops.slice(source.keys, [0, 0, 0, 0], [B, H, n, dk]);
    copy.values = ops.slice(source.values, [0, 0, 0, 0], [B, H, n, dv]);
    copy.offset = n;
    return copy;
  }

  /** Drops the last `n` positions (mlx-lm `trim`): the buffers stay, `offset` moves back. Returns positions trimmed. */
  trim(n: number): number {
    const t = Math.min(this.offset, n);
    this.offset -= t;
    return t;
  }

  /** Frees the buffers. */
  free(): void {
    this.keys?.free();
    this.values?.free();
    this.keys = this.values = undefined;
    this.offset = 0;
  }
}

/** One cache per decoder layer; freed together. */
export function makeCaches(numLayers: number): KVCache[] {
  return Array.from({ length: numLayers }, () => new KVCache());
}

export function freeCaches(caches: KVCache[]): void {
  for (const c of caches) c.free();
}

/** Bytes held by a model's caches (buffer capacity). */
export function cachesBytes(caches: readonly KVCache[]): number {
  return caches.reduce((sum, c) => sum + c.nbytes, 0);
}

/** MLX arrays held by a model's caches (leak accounting). */
export function cachesArrays(caches: readonly KVCache[]): number {
  return caches.reduce((sum, c) => sum + c.state().length, 0);
}

/** A layer's KV buffers, `[B, Hkv, capacity, d]` each, as {@link KVCache} and the batch cache hold them. */
export interface KvBuffers {
  keys: MxArray | undefined;
  values: MxArray | undefined;
}

/**
 * Writes `k`, `v` (`[B, Hkv, L, d]`) at position `at` of `buffers`, growing them in steps of {@link KV_STEP} positions
 * (mlx-lm `KVCache.update_and_fetch`), and returns views of positions `[0, at + L)` (owned by the caller). The old
 * buffers are released before the update is evaluated, so MLX can donate them and write in place instead of copying
 * the cache every step.
 */
export function writeKv(buffers: KvBuffers, at: number, k: MxArray, v: MxArray): [MxArray, MxArray] {
  const replace = (which: "keys" | "values", next: MxArray) => {
    buffers[which]?.free();
    buffers[which] = next;
  };
  const [B, H, L, dk] = k.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  if (!buffers.keys || !buffers.values || at + L > buffers.keys.shape[2]!) {
    const steps = Math.ceil(L / KV_STEP) * KV_STEP;
    const newK = ops.zeros([B, H, steps, dk], k.dtype);
    const newV = ops.zeros([B, H, steps, dv], v.dtype);
    if (buffers.keys && buffers.values) {
      if (at % KV_STEP !== 0) {
        replace("keys", ops.slice(buffers.keys, [0, 0, 0, 0], [B, H, at, dk]));
        replace("values", ops.slice(buffers.values as MxArray, [0, 0, 0, 0], [B, H, at, dv]));
      }
      replace("keys", ops.concatenate([buffers.keys as MxArray, newK], 2));
      replace("values", ops.concatenate([buffers.values as MxArray, newV], 2));
      newK.free();
      newV.free();
    } else {
      buffers.keys = newK;
      buffers.values = newV;
    }
  }
  const end = at + L;
  replace("keys", ops.sliceUpdate(buffers.keys as MxArray, k, [0, 0, at, 0], [B, H, end, dk]));
  replace("values", ops.sliceUpdate(buffers.values as MxArray, v, [0, 0, at, 0], [B, H, end, dv]));
  return [
    ops.slice(buffers.keys as MxArray, [0, 0, 0, 0], [B, H, end, dk]),
    ops.slice(buffers.values as MxArray, [0, 0, 0, 0], [B, H, end, dv]),
  ];
}
