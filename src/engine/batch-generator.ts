/**
 * Continuous batching for one model, as mlx-lm's `BatchGenerator` (`mlx_lm/generate.py`): every sequence that is
 * decoding advances by one token in one shared forward pass per {@link BatchGenerator.next} call, while the sequences
 * that joined since are prefilled alongside, one chunk per call, and join the decoding batch at a step boundary.
 *
 * Each call, in mlx-lm's order:
 * 1. one decode step of the running {@link GenerationBatch}; each sequence sees its token (`onToken`) and the ones
 *    that are done leave at once, handing back their KV cache (`onLeave`);
 * 2. unless `completionBatchSize` sequences are decoding, waiting sequences (up to `prefillBatchSize` in prefill)
 *    enter the {@link PromptBatch}, their own caches (a prefix-cache hit, or empty) merged in;
 * 3. sequences whose prompt is in the cache but for its last token start decoding: their last tokens run as the first
 *    step of a new generation batch, which joins the running one;
 * 4. the others prefill their next chunk of up to `prefillStepSize` tokens.
 *
 * A sequence can be removed at any stage between calls (cancellation); the others never wait for it.
 */
import { clearCache } from "bun-ffi-mlx-bindings";
import type { RowSampling, SampledToken } from "./batch-sampling.ts";
import type { GenerationBatch } from "./generation-batch.ts";
import { freeCaches, type KVCache } from "./kv-cache.ts";
import type { DecoderModel } from "./model/decoder.ts";
import { PromptBatch } from "./prompt-batch.ts";

/** A sequence in the batch, as its owner (a request) sees the batch. */
export interface BatchSequence {
  /** How its tokens are sampled (sampler with its own seed, logits processors, logprobs). */
  readonly sampling: RowSampling;
  /**
   * A token it generated; return false when it is done (end of turn, `max_tokens`, a stop string): it leaves the
   * batch before the next call.
   */
  onToken(token: SampledToken): boolean;
  /**
   * It left the batch (done or removed). `caches` (one per layer, owned by the callee) hold every token fed to the
   * model: the prompt so far, then the generated tokens, the last one included.
   */
  onLeave(caches: KVCache[]): void;
}

/** Batch sizes and chunking (mlx-lm `BatchGenerator` arguments). */
export interface BatchOptions {
  /** Sequences decoding together at most (`completion_batch_size`). */
  completionBatchSize: number;
  /** Sequences prefilled together at most (`prefill_batch_size`; mlx-lm's default is 8). */
  prefillBatchSize: number;
  /** Prompt tokens per sequence per prefill chunk (`prefill_step_size`). */
  prefillStepSize: number;
}

interface Waiting {
  uid: number;
  prompt: number[];
  caches: KVCache[];
}

/** mlx-lm clears MLX's buffer cache every 512 decode steps. */
const CLEAR_CACHE_EVERY = 512;

export class BatchGenerator {
  readonly #model: DecoderModel;
  readonly #opts: BatchOptions;
  readonly #sequences = new Map<number, BatchSequence>();
  #waiting: Waiting[] = [];
  #prompt: PromptBatch | undefined;
  #generation: GenerationBatch | undefined;
  #steps = 0;

  constructor(model: DecoderModel, opts: BatchOptions) {
    this.#model = model;
    this.#opts = { ...opts, completionBatchSize: Math.max(opts.completionBatchSize, opts.prefillBatchSize) };
  }

  /** Sequences in the batch, waiting, prefilling or decoding. */
  get size(): number {
    return this.#sequences.size;
  }

  /** Decode steps run so far (one forward pass of the whole decoding batch each). */
  get steps(): number {
    return this.#steps;
  }

  /** Sequences decoding. */
  get decoding(): number {
    return this.#generation?.rows.length ?? 0;
  }

  /**
   * Adds a sequence; it starts prefilling at the next call with room for it.
   * @param uid unique among the sequences in the batch
   * @param prompt the prompt tokens not in `caches` yet (at least one)
   * @param caches one per layer, holding the tokens before `prompt`; the batch owns them now
   * @throws Error for an empty prompt or a uid already in use
   */
  insert(uid: number, seq: BatchSequence, prompt: number[], caches: KVCache[]): void {
    if (prompt.length === 0) throw new Error("empty prompt");
    if (this.#sequences.has(uid)) throw new Error(`sequence ${uid} is already in the batch`);
    this.#sequences.set(uid, seq);
    this.#waiting.push({ uid, prompt, caches });
  }

  /**
   * Removes a sequence at whatever stage it is; it gets its cache back through `onLeave`.
   * @returns false when no such sequence is in the batch
   */
  remove(uid: number): boolean {
    const seq = this.#sequences.get(uid);
    if (!seq) return false;
    const w = this.#waiting.findIndex((x) => x.uid === uid);
    if (w >= 0) {
      const [waiting] = this.#waiting.splice(w, 1);
      this.#leave(uid, waiting!.caches);
      return true;
    }
    const p = this.#prompt?.rows.findIndex((r) => r.uid === uid) ?? -1;
    if (p >= 0) {
      this.#prompt = this.#removeRows(this.#prompt!, [p]);
      return true;
    }
    const g = this.#generation?.rows.findIndex((r) => r.uid === uid) ?? -1;
    if (g >= 0) this.#generation = this.#removeRows(this.#generation!, [g]);
    return true;
  }

  /**
   * One step: a decode step of the running batch, then admission and one prefill chunk (see the file comment).
   * @throws MlxError from MLX evaluation (the batch is then in an unknown state: {@link clear} it)
   */
  next(): void {
    const gen = this.#generation;
    if (gen) {
      const rows = [...gen.rows];
      const tokens = gen.step();
      if (++this.#steps % CLEAR_CACHE_EVERY === 0) clearCache();
      const done = rows.flatMap((r, i) => (this.#sequences.get(r.uid)!.onToken(tokens[i]!) ? [] : [i]));
      if (done.length) this.#generation = this.#removeRows(gen, done);
    }
    const { completionBatchSize, prefillBatchSize, prefillStepSize } = this.#opts;
    if (this.decoding >= completionBatchSize) return;
    const n = Math.min(
      prefillBatchSize - (this.#prompt?.rows.length ?? 0),
      completionBatchSize - this.decoding,
      this.#waiting.length,
    );
    if (n > 0) {
      const joining = this.#waiting.splice(0, n);
      const rows = joining.map((w) => ({
        uid: w.uid,
        sampling: this.#sequences.get(w.uid)!.sampling,
        pending: w.prompt,
      }));
      const batch = new PromptBatch(
        this.#model,
        rows,
        joining.map((w) => w.caches),
        prefillStepSize,
      );
      if (this.#prompt) this.#prompt.extend(batch);
      else this.#prompt = batch;
    }
    const prompt = this.#prompt;
    if (!prompt) return;
    const ready = prompt.rows.flatMap((r, i) => (r.pending.length === 1 ? [i] : []));
    if (ready.length) {
      const started = prompt.startDecoding(ready);
      if (this.#generation) this.#generation.extend(started);
      else this.#generation = started;
    }
    if (prompt.rows.length) prompt.prompt();
    else this.#prompt = undefined;
  }

  /**
   * Frees every array of the batch after a failure and empties it. The sequences get no `onLeave`.
   * @returns the sequences that were in the batch
   */
  clear(): BatchSequence[] {
    for (const w of this.#waiting) freeCaches(w.caches);
    this.#waiting = [];
    this.#prompt?.free();
    this.#generation?.free();
    this.#prompt = this.#generation = undefined;
    const sequences = [...this.#sequences.values()];
    this.#sequences.clear();
    return sequences;
  }

  /** Hands rows `leaving` (ascending) of `batch` their caches and drops them; undefined when none is left. */
  #removeRows<T extends PromptBatch | GenerationBatch>(batch: T, leaving: readonly number[]): T | undefined {
    const rows = batch.rows;
    for (const i of leaving) this.#leave(rows[i]!.uid, batch.extractCache(i));
    const gone = new Set(leaving);
    const keep = rows.flatMap((_, i) => (gone.has(i) ? [] : [i]));
    if (keep.length === 0) {
      batch.free();
      return undefined;
    }
    batch.filter(keep);
    return batch;
  }

  #leave(uid: number, caches: KVCache[]): void {
    const seq = this.#sequences.get(uid)!;
    this.#sequences.delete(uid);
    seq.onLeave(caches);
  }
}
