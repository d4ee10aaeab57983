/**
 * The prefill half of continuous batching, as mlx-lm's `PromptProcessingBatch` (`mlx_lm/generate.py`): the
 * sequences about to join decoding are prefilled together, one chunk of at most `prefill_step_size` tokens per row per
 * call, right-padded into one `[B, L]` forward pass, then rolled into the left-padded layout of {@link BatchKVCache}.
 * Only the caches are evaluated (the chunk's logits are never computed). A row whose prompt is in the cache but for
 * its last token is split off into a {@link GenerationBatch}.
 */
import { clearCache, ops } from "bun-ffi-mlx-bindings";
import { BatchKVCache } from "./batch-kv-cache.ts";
import type { RowSampling } from "./batch-sampling.ts";
import { GenerationBatch } from "./generation-batch.ts";
import { freeCaches, type KVCache } from "./kv-cache.ts";
import type { DecoderModel } from "./model/decoder.ts";

/** A sequence being prefilled. */
export interface PrefillRow {
  uid: number;
  sampling: RowSampling;
  /** Prompt tokens not in the cache yet, last token included (mlx-lm's segments, flattened). */
  pending: number[];
}

export class PromptBatch {
  readonly #model: DecoderModel;
  readonly #prefillStepSize: number;
  #rows: PrefillRow[];
  /** One per layer. */
  #caches: BatchKVCache[];

  /**
   * A batch of new sequences, each starting from its own cache (a prefix-cache hit, or empty caches), merged into
   * left-padded batch caches (mlx-lm `_merge_caches`).
   * @param caches per row, one {@link KVCache} per layer; read, then freed (the batch copies them)
   * @param prefillStepSize prompt tokens per row per {@link prompt} call
   */
  constructor(model: DecoderModel, rows: PrefillRow[], caches: KVCache[][], prefillStepSize: number) {
    this.#model = model;
    this.#prefillStepSize = prefillStepSize;
    this.#rows = rows;
    const merged: BatchKVCache[] = [];
    try {
      for (let l = 0; l < model.config.numLayers; l++) merged.push(BatchKVCache.merge(caches.map((c) => c[l]!)));
    } catch (err) {
      for (const c of merged) c.free();
      throw err;
    } finally {
      for (const c of caches) freeCaches(c);
    }
    this.#caches = merged;
  }

  get rows(): readonly PrefillRow[] {
    return this.#rows;
  }

  /** Appends `other`'s rows (mlx-lm `extend`); `other` is emptied. */
  extend(other: PromptBatch): void {
    this.#caches.forEach((c, i) => {
      c.extend(other.#caches[i]!);
    });
    this.#rows = [...this.#rows, ...other.#rows];
    other.#caches = [];
    other.#rows = [];
  }

  /** Row `i`'s KV cache as a single-sequence cache (a copy owned by the caller). */
  extractCache(i: number): KVCache[] {
    return this.#caches.map((c) => c.extract(i));
  }

  /**
   * Keeps the rows `keep` (ascending), dropping the others' cache rows.
   * @param keep at least one row
   */
  filter(keep: readonly number[]): void {
    for (const c of this.#caches) c.filter(keep);
    this.#rows = keep.map((i) => this.#rows[i]!);
  }

  /**
   * Moves the rows `ready` (ascending; each with only its last prompt token pending) into a new generation batch,
   * which feeds their last tokens at once (mlx-lm `split(…).generate(…)`). This batch keeps the other rows.
   * @param ready at least one row
   */
  startDecoding(ready: readonly number[]): GenerationBatch {
    let caches: BatchKVCache[];
    if (ready.length === this.#rows.length) {
      caches = this.#caches;
      this.#caches = [];
      for (const c of caches) c.filter(ready);
    } else {
      caches = this.#caches.map((c) => c.split(ready));
    }
    const chosen = new Set(ready);
    const rows = ready.map((i) => this.#rows[i]!);
    this.#rows = this.#rows.filter((_, i) => !chosen.has(i));
    return new GenerationBatch(
      this.#model,
      rows.map((r) => ({ uid: r.uid, sampling: r.sampling })),
      caches,
      rows.map((r) => r.pending[0]!),
    );
  }

  /**
   * Prefills the next chunk of every row: up to `prefillStepSize` of its pending tokens, never its last one. Rows of
   * unequal chunks are right-padded with token 0, then rolled into left padding (mlx-lm `prompt`).
   * @returns how many tokens each row prefilled
   * @throws MlxError from MLX evaluation
   */
  prompt(): number[] {
    const chunks = this.#rows.map((r) => r.pending.slice(0, Math.min(this.#prefillStepSize, r.pending.length - 1)));
    for (const [i, r] of this.#rows.entries()) r.pending = r.pending.slice(chunks[i]!.length);
    const lengths = chunks.map((c) => c.length);
    const longest = Math.max(...lengths);
    if (longest === 0) return lengths;
    const padding = lengths.map((n) => longest - n);
    const ids = new Int32Array(this.#rows.length * longest);
    chunks.forEach((c, i) => {
      ids.set(c, i * longest);
    });
    for (const c of this.#caches) c.prepare(padding);
    {
      using tokens = ops.fromArray(ids, [this.#rows.length, longest]);
      this.#model.forward(tokens, this.#caches).free();
    }
    ops.evaluate(...this.#caches.flatMap((c) => c.state()));
    clearCache();
    if (Math.max(...padding) > 0) {
      for (const c of this.#caches) c.finalize();
      ops.evaluate(...this.#caches.flatMap((c) => c.state()));
      clearCache();
    }
    return lengths;
  }

  /** Frees the caches. */
  free(): void {
    for (const c of this.#caches) c.free();
    this.#caches = [];
    this.#rows = [];
  }
}
