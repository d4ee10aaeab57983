/**
 * One decoder layer's KV cache for a batch of sequences, as mlx-lm's `BatchKVCache` (`mlx_lm/models/cache.py`):
 * keys and values `[B, n_kv_heads, capacity, head_dim]`, every row's positions right-aligned at `idx` and left-padded,
 * so one forward pass appends one new position (or a chunk) to every row at once. The padding is masked out of
 * attention and each row keeps its own RoPE position (`offsets`), so a row computes what it would alone.
 *
 * Joining and leaving follow mlx-lm: {@link BatchKVCache.merge} left-pads single-sequence caches (a prefix-cache hit)
 * into a batch, `prepare`/`finalize` roll a right-padded prefill chunk into left padding, `filter` drops rows (and
 * the padding every remaining row shares), `extend` appends another batch's rows, `extract` copies one row out.
 * Every method reproduces mlx-lm's layout exactly (same buffer lengths, same padding), so the attention reductions
 * run over the same shapes and greedy decoding stays token-identical to mlx-lm's batch generation.
 */
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";
import { type AttentionInputs, KV_STEP, KVCache, type LayerCache, writeKv } from "./kv-cache.ts";

type Which = "keys" | "values";

export class BatchKVCache implements LayerCache {
  /** `[B, Hkv, capacity, dk]`, absent until the first update (or when merged from empty caches). */
  keys: MxArray | undefined;
  /** `[B, Hkv, capacity, dv]`. */
  values: MxArray | undefined;
  /** Padding positions at the start of each row (mlx-lm `left_padding`). */
  leftPadding: number[];
  /** Each row's RoPE position of its next token: its valid tokens (mlx-lm `offset`). */
  offsets: number[];
  /** Positions written in every row, padding included (mlx-lm `_idx`). */
  idx = 0;
  /** Right padding of the chunk being prefilled, rolled into left padding by {@link finalize}. */
  #rightPadding: number[] | undefined;

  /** An empty cache for rows that will be prefilled with `leftPadding` pad tokens in front (one entry per row). */
  constructor(leftPadding: readonly number[]) {
    this.leftPadding = [...leftPadding];
    this.offsets = leftPadding.map((p) => -p);
  }

  /** Batch rows. */
  get rows(): number {
    return this.leftPadding.length;
  }

  /**
   * Appends `k`, `v` (`[B, Hkv, L, d]`) at `idx` for every row and returns views of positions `[0, idx + L)`
   * (caller-owned). Grows the buffers in steps of {@link KV_STEP} positions, as mlx-lm.
   */
  updateAndFetch(k: MxArray, v: MxArray): [MxArray, MxArray] {
    const fetched = writeKv(this, this.idx, k, v);
    const L = k.shape[2]!;
    this.offsets = this.offsets.map((o) => o + L);
    this.idx += L;
    return fetched;
  }

  /**
   * mlx-lm `create_causal_mask(L, offset=idx, left_padding)`: bool `[B, 1, L, idx + L]`, true where query position
   * `idx + i` may attend to key position `j` (`j ≤ idx + i` and `j` past the row's padding); and the rows' RoPE
   * offsets, int32 `[B]`. Two shortcuts compute the same numbers with fewer ops per decode step: one offset for all
   * rows when they are equal (RoPE of equal positions), and no mask for one new position with no padding (the mask
   * would be all true, and attention is then the same).
   */
  attentionInputs(L: number): AttentionInputs {
    const first = this.offsets[0]!;
    const offset = this.offsets.every((o) => o === first)
      ? first
      : ops.fromArray(Int32Array.from(this.offsets), [this.rows]);
    if (L === 1 && this.leftPadding.every((p) => p === 0)) return { mask: undefined, offset };
    const K = this.idx + L;
    using keyPos = ops.arange(0, K);
    using keyRow = ops.reshape(keyPos, [1, K]);
    using queryPos = ops.arange(this.idx, K);
    using queryCol = ops.reshape(queryPos, [L, 1]);
    using causal = ops.binary("greater_equal", queryCol, keyRow);
    using padding = ops.fromArray(Int32Array.from(this.leftPadding), [this.rows, 1, 1, 1]);
    using pastPadding = ops.binary("less_equal", padding, keyRow);
    return { mask: ops.binary("logical_and", causal, pastPadding), offset };
  }

  /** Declares the right padding of the chunk about to be prefilled (mlx-lm `prepare(right_padding=…)`). */
  prepare(rightPadding: readonly number[]): void {
    if (Math.max(...rightPadding) > 0) this.#rightPadding = [...rightPadding];
  }

  /**
   * After a right-padded chunk: rolls each row right by its padding so the pad positions move in front of its tokens
   * (mlx-lm `finalize` with `dynamic_roll` over the whole buffer).
   */
  finalize(): void {
    const padding = this.#rightPadding;
    if (!padding) return;
    this.#rightPadding = undefined;
    if (this.keys && this.values) {
      using index = rollIndex(padding, this.keys.shape[2]!);
      this.#replace("keys", ops.takeAlongAxis(this.keys, index, 2));
      this.#replace("values", ops.takeAlongAxis(this.values, index, 2));
    }
    this.offsets = this.offsets.map((o, i) => o - padding[i]!);
    this.leftPadding = this.leftPadding.map((p, i) => p + padding[i]!);
  }

  /** The arrays to evaluate after a prefill chunk (mlx-lm evaluates `cache.state`). */
  state(): MxArray[] {
    return this.keys && this.values ? [this.keys, this.values] : [];
  }

  /** Bytes held by the buffers (capacity). */
  get nbytes(): number {
    return (this.keys?.nbytes ?? 0) + (this.values?.nbytes ?? 0);
  }

  /**
   * Keeps only the rows `keep` (ascending indices), then drops the padding they all share in front (mlx-lm `filter`).
   * @param keep at least one row
   */
  filter(keep: readonly number[]): void {
    if (this.keys && this.values) {
      using index = ops.fromArray(Int32Array.from(keep), [keep.length]);
      this.#replace("keys", ops.take(this.keys, index, 0));
      this.#replace("values", ops.take(this.values, index, 0));
    }
    this.offsets = keep.map((i) => this.offsets[i]!);
    this.leftPadding = keep.map((i) => this.leftPadding[i]!);
    const shared = Math.min(...this.leftPadding);
    if (shared <= 0) return;
    for (const which of ["keys", "values"] as const) {
      const a = this[which];
      if (!a) continue;
      const [B, H, n, d] = a.shape as [number, number, number, number];
      this.#replace(which, ops.slice(a, [0, 0, shared, 0], [B, H, n, d]));
    }
    this.idx -= shared;
    this.leftPadding = this.leftPadding.map((p) => p - shared);
  }

  /**
   * A new cache holding the rows `take` (ascending) of this one, with their shared padding dropped; this cache keeps
   * the others (mlx-lm `PromptProcessingBatch.split`: a copy filtered both ways).
   * @param take at least one row and not every row
   */
  split(take: readonly number[]): BatchKVCache {
    const taken = new BatchKVCache([]);
    taken.keys = this.keys && ops.unary("copy", this.keys);
    taken.values = this.values && ops.unary("copy", this.values);
    taken.leftPadding = [...this.leftPadding];
    taken.offsets = [...this.offsets];
    taken.idx = this.idx;
    taken.filter(take);
    const chosen = new Set(take);
    this.filter(this.leftPadding.flatMap((_, i) => (chosen.has(i) ? [] : [i])));
    return taken;
  }

  /**
   * Appends the rows of `other` (mlx-lm `extend`): both are padded to the same length with every row still
   * right-aligned at the longer `idx`. Takes `other`'s arrays (it is left empty).
   */
  extend(other: BatchKVCache): void {
    if (!this.keys && !other.keys) {
      this.leftPadding = [...this.leftPadding, ...other.leftPadding];
      this.offsets = [...this.offsets, ...other.offsets];
      other.free();
      return;
    }
    const ref = (this.keys ?? other.keys)!;
    const [, H, , dk] = ref.shape as [number, number, number, number];
    const dv = (this.values ?? other.values)!.shape[3]!;
    const maxIdx = Math.max(this.idx, other.idx);
    const maxSize = Math.max(this.keys?.shape[2] ?? 0, other.keys?.shape[2] ?? 0);
    const a = this.#padded(maxIdx, maxSize, H, dk, dv, ref.dtype);
    const b = other.#padded(maxIdx, maxSize, H, dk, dv, ref.dtype);
    this.#replace("keys", ops.concatenate([a.keys, b.keys], 0));
    this.#replace("values", ops.concatenate([a.values, b.values], 0));
    for (const x of [a.keys, a.values, b.keys, b.values]) x.free();
    this.leftPadding = [...a.leftPadding, ...b.leftPadding];
    this.offsets = [...this.offsets, ...other.offsets];
    this.idx = maxIdx;
    other.free();
  }

  /** This cache's buffers padded with zeros to `size` positions, right-aligned at `idx` (mlx-lm `extend.pad`). */
  #padded(idx: number, size: number, H: number, dk: number, dv: number, dtype: Dtype) {
    const B = this.rows;
    const left = idx - this.idx;
    const pad = (a: MxArray | undefined, d: number): MxArray => {
      let x = a ? ops.unary("copy", a) : ops.zeros([B, H, 0, d], dtype);
      const swap = (next: MxArray) => {
        x.free();
        x = next;
      };
      let right = size - x.shape[2]! - left;
      if (right < 0) {
        swap(ops.slice(x, [0, 0, 0, 0], [B, H, x.shape[2]! + right, d]));
        right = 0;
      }
      if (left > 0 || right > 0) {
        using before = ops.zeros([B, H, left, d], dtype);
        using after = ops.zeros([B, H, right, d], dtype);
        swap(ops.concatenate([before, x, after], 2));
      }
      return x;
    };
    return {
      keys: pad(this.keys, dk),
      values: pad(this.values, dv),
      leftPadding: this.leftPadding.map((p) => p + left),
    };
  }

  /**
   * Row `i` as a single-sequence cache of its own (a copy: mlx-lm `extract`), holding every position the row has.
   * @returns a {@link KVCache} owned by the caller (empty when nothing was written yet)
   */
  extract(i: number): KVCache {
    const cache = new KVCache();
    if (!this.keys || !this.values) return cache;
    const [, H, , dk] = this.keys.shape as [number, number, number, number];
    const dv = this.values.shape[3]!;
    const start = this.leftPadding[i]!;
    if (start >= this.idx) return cache;
    using k = ops.slice(this.keys, [i, 0, start, 0], [i + 1, H, this.idx, dk]);
    using v = ops.slice(this.values, [i, 0, start, 0], [i + 1, H, this.idx, dv]);
    const [kv, vv] = cache.updateAndFetch(k, v);
    kv.free();
    vv.free();
    return cache;
  }

  /**
   * A batch of single-sequence caches, left-padded to the longest (mlx-lm `BatchKVCache.merge`). The caches are only
   * read; the caller still owns (and frees) them.
   */
  static merge(caches: readonly KVCache[]): BatchKVCache {
    const lengths = caches.map((c) => c.offset);
    const longest = Math.max(...lengths);
    if (longest === 0) return new BatchKVCache(caches.map(() => 0));
    const padding = lengths.map((n) => longest - n);
    const first = caches.find((c) => c.keys !== undefined)!;
    const [, H, , dk] = first.keys!.shape as [number, number, number, number];
    const dv = first.values!.shape[3]!;
    const merged = new BatchKVCache(padding);
    merged.keys = ops.zeros([caches.length, H, longest, dk], first.keys!.dtype);
    merged.values = ops.zeros([caches.length, H, longest, dv], first.values!.dtype);
    caches.forEach((c, i) => {
      if (!c.keys || !c.values || c.offset === 0) return;
      const p = padding[i]!;
      using k = ops.slice(c.keys, [0, 0, 0, 0], [1, H, c.offset, dk]);
      using v = ops.slice(c.values, [0, 0, 0, 0], [1, H, c.offset, dv]);
      merged.#replace("keys", ops.sliceUpdate(merged.keys!, k, [i, 0, p, 0], [i + 1, H, p + c.offset, dk]));
      merged.#replace("values", ops.sliceUpdate(merged.values!, v, [i, 0, p, 0], [i + 1, H, p + c.offset, dv]));
    });
    merged.offsets = [...lengths];
    merged.idx = longest;
    return merged;
  }

  #replace(which: Which, next: MxArray): void {
    this[which]?.free();
    this[which] = next;
  }

  /** Frees the buffers; the cache is empty afterwards. */
  free(): void {
    this.keys?.free();
    this.values?.free();
    this.keys = this.values = undefined;
  }
}

/**
 * Indices of mlx-lm's `dynamic_roll(x, shifts[:, None], axis=2)` over `n` positions: row `b` takes position
 * `(j - shifts[b]) mod n` into `j`. int32 `[B, 1, n, 1]`, to broadcast over heads and features.
 */
function rollIndex(shifts: readonly number[], n: number): MxArray {
  const index = new Int32Array(shifts.length * n);
  shifts.forEach((s, b) => {
    for (let j = 0; j < n; j++) index[b * n + j] = (((j - s) % n) + n) % n;
  });
  return ops.fromArray(index, [shifts.length, 1, n, 1], Dtype.int32);
}
