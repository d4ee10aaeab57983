/**
 * The sampling stage of a decode step, row by row of a batch, as mlx-lm's `GenerationBatch._step`
 * (`mlx_lm/generate.py`): each row's own logits processors on its own row (`logits[e:e+1]`), log-softmax of the whole
 * batch, then one batched `argmax` when every row is greedy, else each row's own sampler (its own PRNG key) on its row.
 * A batch of one is exactly mlx-lm's single-sequence `generate_step`. Logprobs of the sampled tokens and the most
 * likely alternatives are computed for the rows that asked for them.
 *
 * Everything returned is lazy, so the caller can schedule the next forward pass (`async_eval`) before reading the
 * tokens back with {@link readRows}.
 */
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { GrammarConstraint } from "./grammar/constraint.ts";
import type { LogitsProcessors } from "./logits-processors.ts";
import type { Sampler } from "./sampler.ts";

/** Alternatives computed per row when any row asks for logprobs (OpenAI's `top_logprobs` maximum). */
export const MAX_TOP_LOGPROBS = 20;

/** How one sequence picks its tokens: its sampler (seeded key), processors and logprobs. */
export interface RowSampling {
  sampler: Sampler;
  /** Penalties, logit bias and other per-sequence processors, applied to the row's raw logits. */
  processors?: LogitsProcessors;
  /** Report each token's log-probability and this many alternatives (0–20); absent: no logprobs. */
  topLogprobs?: number;
  /**
   * Grammar-constrained decoding (structured outputs): its mask goes on the row before the processors. The loop calls
   * its `fillMask()` while the step's forward pass runs, after `accept()`ing the row's previous token.
   */
  constraint?: GrammarConstraint;
}

/** A sampled token with its logprobs, read back. */
export interface SampledToken {
  token: number;
  /** Log-probability of `token` under the processed distribution (before top_p/top_k/min_p filtering). */
  logprob?: number;
  /** The most likely alternatives, best first. */
  top?: { token: number; logprob: number }[];
}

/** The lazy results of one step, one row per sequence. */
export interface SampledRows {
  /** Token ids `[B]` (uint32 or int32). */
  token: MxArray;
  /** float32 `[B, 1]`: each row's sampled-token logprob (present when any row asked for logprobs). */
  logprob?: MxArray;
  /** `[B, K]` ids and logprobs of each row's K most likely tokens (unordered), K = min(20, V). */
  topIds?: MxArray;
  topLogprobs?: MxArray;
}

const arraysOf = (s: SampledRows) =>
  [s.token, s.logprob, s.topIds, s.topLogprobs].filter((a): a is MxArray => a !== undefined);

/** Every array of `s`, to schedule with `asyncEval`. */
export const lazyArrays = (s: SampledRows): MxArray[] => arraysOf(s);

export function freeSampled(s: SampledRows | undefined): void {
  if (s) for (const a of arraysOf(s)) a.free();
}

/** Row `e` of `a` (`[B, …]` → `[1, …]`), or `a` itself for a batch of one (no copy: solo runs stay op for op). */
function row(a: MxArray, e: number, rows: number): MxArray {
  if (rows === 1) return ops.unary("copy", a);
  const stop = a.shape.map((n, axis) => (axis === 0 ? e + 1 : n));
  return ops.slice(
    a,
    a.shape.map((_, axis) => (axis === 0 ? e : 0)),
    stop,
  );
}

const needsProcessing = (r: RowSampling) => r.processors?.active || r.constraint !== undefined;

/** One row's grammar mask, then its processors, on `logits: [1, V]` (a new lazy array). */
function processRow(r: RowSampling, logits: MxArray): MxArray {
  if (!r.constraint) return r.processors!.apply(logits);
  using masked = r.constraint.apply(logits);
  return r.processors?.active ? r.processors.apply(masked) : ops.unary("copy", masked);
}

/** Runs each row's processors on its own row (mlx-lm: rows without processors pass through untouched). */
function processRows(logits: MxArray, rows: readonly RowSampling[]): MxArray | undefined {
  if (!rows.some(needsProcessing)) return undefined;
  if (rows.length === 1) return processRow(rows[0]!, logits);
  const parts = rows.map((r, e) => {
    using part = row(logits, e, rows.length);
    return needsProcessing(r) ? processRow(r, part) : ops.unary("copy", part);
  });
  try {
    return ops.concatenate(parts, 0);
  } finally {
    for (const p of parts) p.free();
  }
}

/** One batched argmax when every row is greedy; else each row's sampler on its row, concatenated. */
function sampleTokens(logprobs: MxArray, rows: readonly RowSampling[]): MxArray {
  if (rows.length === 1) return rows[0]!.sampler.sample(logprobs);
  if (rows.every((r) => r.sampler.greedy)) return ops.reduceAxis("argmax_axis", logprobs, -1);
  const parts = rows.map((r, e) => {
    using part = row(logprobs, e, rows.length);
    return r.sampler.sample(part);
  });
  try {
    return ops.concatenate(parts, 0);
  } finally {
    for (const p of parts) p.free();
  }
}

/**
 * Samples the next token of every row from `logits: [B, V]` (the last position's raw logits) and appends it to each
 * row's processors' window.
 * @param rows one entry per batch row, in order
 * @returns lazy arrays owned by the caller (free with {@link freeSampled})
 */
export function sampleRows(logits: MxArray, rows: readonly RowSampling[]): SampledRows {
  const [B, V] = logits.shape as [number, number];
  using processed = processRows(logits, rows);
  const x = processed ?? logits;
  using lse = ops.reduceAxis("logsumexp_axis", x, -1, true);
  using logprobs = ops.subtract(x, lse);
  const token = sampleTokens(logprobs, rows);
  rows.forEach((r, e) => {
    if (!r.processors?.active) return;
    using t = row(token, e, B);
    r.processors.append(t);
  });
  if (!rows.some((r) => r.topLogprobs !== undefined)) return { token };
  using index = ops.reshape(token, [B, 1]);
  using index32 = ops.astype(index, Dtype.int32);
  const logprob = ops.takeAlongAxis(logprobs, index32, -1);
  const k = Math.min(MAX_TOP_LOGPROBS, V);
  if (!rows.some((r) => (r.topLogprobs ?? 0) > 0)) return { token, logprob };
  using negated = ops.unary("negative", logprobs);
  using order = ops.argpartition(negated, k - 1, -1);
  const topIds = ops.slice(order, [0, 0], [B, k]);
  const topLogprobs = ops.takeAlongAxis(logprobs, topIds, -1);
  return { token, logprob, topIds, topLogprobs };
}

/** Token ids read back without a conversion op for the usual uint32 (argmax, categorical, argpartition). */
const ids32 = (a: MxArray): Uint32Array | Int32Array => (a.dtype === Dtype.uint32 ? a.toUint32() : a.toInt32());

/**
 * Reads a step back (blocks until evaluated): one {@link SampledToken} per row, with logprobs for the rows that asked
 * (their `topLogprobs` best alternatives, best first).
 */
export function readRows(s: SampledRows, rows: readonly RowSampling[]): SampledToken[] {
  const tokens = ids32(s.token);
  const logprobs = s.logprob?.toFloat32();
  const ids = s.topIds && ids32(s.topIds);
  const lps = s.topLogprobs?.toFloat32();
  const k = s.topIds?.shape[1] ?? 0;
  return rows.map((r, e) => {
    const out: SampledToken = { token: tokens[e]! };
    if (r.topLogprobs === undefined || !logprobs) return out;
    out.logprob = logprobs[e]!;
    if (ids && lps && r.topLogprobs > 0) {
      const top = Array.from(ids.subarray(e * k, (e + 1) * k), (token, i) => ({ token, logprob: lps[e * k + i]! }));
      out.top = top.sort((a, b) => b.logprob - a.logprob).slice(0, r.topLogprobs);
    }
    return out;
  });
}

/** The rows `keep` of a step's results (a batch lost rows while their next step was in flight). */
export function selectRows(s: SampledRows, keep: readonly number[]): SampledRows {
  using index = ops.fromArray(Int32Array.from(keep), [keep.length]);
  const pick = (a: MxArray | undefined) => a && ops.take(a, index, 0);
  return { token: pick(s.token)!, logprob: pick(s.logprob), topIds: pick(s.topIds), topLogprobs: pick(s.topLogprobs) };
}

/**
 * The results of two batches' steps, `a`'s rows first (two batches merged while their steps were in flight). A
 * logprob array one side lacks is filled with zeros for its rows: none of them asked for it.
 */
export function concatRows(a: SampledRows, b: SampledRows): SampledRows {
  const join = (x: MxArray | undefined, y: MxArray | undefined, like: (rows: number) => MxArray) => {
    if (!x && !y) return undefined;
    using xs = x ? ops.unary("copy", x) : like(a.token.shape[0]!);
    using ys = y ? ops.unary("copy", y) : like(b.token.shape[0]!);
    return ops.concatenate([xs, ys], 0);
  };
  const k = (a.topIds ?? b.topIds)?.shape[1] ?? 0;
  return {
    token: join(a.token, b.token, () => ops.zeros([0]))!,
    logprob: join(a.logprob, b.logprob, (n) => ops.zeros([n, 1])),
    topIds: join(a.topIds, b.topIds, (n) => ops.zeros([n, k], Dtype.uint32)),
    topLogprobs: join(a.topLogprobs, b.topLogprobs, (n) => ops.zeros([n, k])),
  };
}
