/**
 * The decoding half of continuous batching, as mlx-lm's `GenerationBatch` (`mlx_lm/generate.py`): every sequence of
 * the batch advances one token per forward pass `[B, 1]` over one left-padded {@link BatchKVCache} per layer.
 *
 * Pipelined like mlx-lm: {@link GenerationBatch.step} builds the forward pass of the tokens sampled at the previous
 * step while they are still unevaluated, schedules it (`async_eval`), and only then reads those tokens back, so graph
 * construction overlaps computation. Rows leave (`filter`) and join (`extend`) between steps while a step is in
 * flight; its lazy results follow the rows.
 */
import { ops } from "bun-ffi-mlx-bindings";
import type { BatchKVCache } from "./batch-kv-cache.ts";
import {
  concatRows,
  freeSampled,
  lazyArrays,
  readRows,
  type RowSampling,
  type SampledRows,
  type SampledToken,
  sampleRows,
  selectRows,
} from "./batch-sampling.ts";
import type { KVCache } from "./kv-cache.ts";
import type { DecoderModel } from "./model/decoder.ts";

/** One decoding sequence: its id in the batch generator and how it samples. */
export interface DecodeRow {
  uid: number;
  sampling: RowSampling;
}

export class GenerationBatch {
  readonly #model: DecoderModel;
  #rows: DecodeRow[];
  /** One per layer; the batch owns them. */
  #caches: BatchKVCache[];
  /** The step in flight: the tokens the next forward pass feeds (lazy), with their logprobs. */
  #next: SampledRows | undefined;

  /**
   * Starts decoding sequences whose prompts, all but the last token, are in `caches` (mlx-lm's constructor): the first
   * step feeds `lastTokens` and schedules the sampling of each row's first generated token.
   * @param caches one per layer, `rows.length` rows each; the batch takes ownership (freed on failure too)
   * @param lastTokens each row's last prompt token
   * @throws MlxError from building the first step
   */
  constructor(model: DecoderModel, rows: DecodeRow[], caches: BatchKVCache[], lastTokens: readonly number[]) {
    this.#model = model;
    this.#rows = rows;
    this.#caches = caches;
    this.#next = { token: ops.fromArray(Int32Array.from(lastTokens), [lastTokens.length]) };
    try {
      freeSampled(this.#advance(true).current);
    } catch (err) {
      this.free();
      throw err;
    }
  }

  /** The sequences, in batch-row order. */
  get rows(): readonly DecodeRow[] {
    return this.#rows;
  }

  /**
   * One decode step: schedules the forward pass of the tokens sampled last step, then reads them back.
   * @returns one token per row, in row order (`rows` before this call)
   * @throws MlxError from MLX evaluation
   */
  step(): SampledToken[] {
    const rows = this.#rows.map((r) => r.sampling);
    const { current, read } = this.#advance(false);
    try {
      return read ?? readRows(current, rows);
    } finally {
      freeSampled(current);
    }
  }

  /**
   * Builds and schedules the forward pass of `#next`; returns the step it consumed (caller frees it). With grammar
   * constraints in the batch, the logits are scheduled first and, while they compute, the consumed tokens are read
   * back (`read`), each constrained row's grammar accepts its token (not on the first step: prompt tokens) and fills
   * its next mask on the CPU.
   */
  #advance(first: boolean): { current: SampledRows; read?: SampledToken[] } {
    const current = this.#next!;
    this.#next = undefined;
    try {
      const B = this.#rows.length;
      const rows = this.#rows.map((r) => r.sampling);
      using inputs = ops.reshape(current.token, [B, 1]);
      using logits = this.#model.forward(inputs, this.#caches);
      using last = ops.reshape(logits, [B, logits.shape[2]!]);
      let read: SampledToken[] | undefined;
      if (rows.some((r) => r.constraint)) {
        ops.asyncEval(last);
        if (!first) {
          const tokens = readRows(current, rows);
          for (const [e, r] of rows.entries()) r.constraint?.accept(tokens[e]!.token);
          read = tokens;
        }
        for (const r of rows) r.constraint?.fillMask();
      }
      this.#next = sampleRows(last, rows);
      ops.asyncEval(...lazyArrays(this.#next));
      return { current, read };
    } catch (err) {
      freeSampled(current);
      throw err;
    }
  }

  /** Row `i`'s KV cache as a single-sequence cache (a copy owned by the caller): every token fed so far. */
  extractCache(i: number): KVCache[] {
    return this.#caches.map((c) => c.extract(i));
  }

  /**
   * Keeps the rows `keep` (ascending indices), dropping the others' cache rows and in-flight tokens (mlx-lm `filter`).
   * @param keep at least one row
   */
  filter(keep: readonly number[]): void {
    for (const c of this.#caches) c.filter(keep);
    if (this.#next) {
      const kept = selectRows(this.#next, keep);
      freeSampled(this.#next);
      this.#next = kept;
    }
    this.#rows = keep.map((i) => this.#rows[i]!);
  }

  /** Appends `other`'s rows after this batch's (mlx-lm `extend`); `other` is emptied and freed. */
  extend(other: GenerationBatch): void {
    this.#caches.forEach((c, i) => {
      c.extend(other.#caches[i]!);
    });
    if (this.#next && other.#next) {
      const joined = concatRows(this.#next, other.#next);
      freeSampled(this.#next);
      this.#next = joined;
    }
    this.#rows = [...this.#rows, ...other.#rows];
    other.free();
  }

  /** Frees the caches and the step in flight. */
  free(): void {
    for (const c of this.#caches) c.free();
    this.#caches = [];
    freeSampled(this.#next);
    this.#next = undefined;
    this.#rows = [];
  }
}
