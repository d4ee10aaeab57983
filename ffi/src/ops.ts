/**
 * Array operations over the MLX C API. Each function returns a new {@link MxArray} owned by the caller; inputs are
 * borrowed, never freed. All ops run on the runtime's default stream and are lazy until `eval`/`asyncEval`.
 * Semantics are MLX's (`mlx/ops.h`, `mlx/fast.h`); names follow mlx / mlx-lm.
 */
import type { Pointer } from "bun:ffi";
import { MxArray } from "./array.ts";
import { Dtype } from "./dtype.ts";
import { optDtype, optFloat, optInt } from "./optional.ts";
import { callOut, callOut2, check, mlx } from "./runtime.ts";
import type { BinaryOp, ReduceAxisOp, UnaryOp } from "./symbols.ts";

const i32 = (xs: readonly number[]) => new Int32Array(xs.length ? xs : [0]);
const cstr = (s: string) => Buffer.from(`${s}\0`);
const CAUSAL = cstr("causal");
const NO_MASK = cstr("");
const ARRAY_MASK = cstr("array");
const AFFINE = cstr("affine");

function op(name: string, ...args: unknown[]): MxArray {
  return opOn(mlx().stream, name, ...args);
}

/** Like {@link op}, on `stream` rather than the default one. */
function opOn(stream: Pointer, name: string, ...args: unknown[]): MxArray {
  const f = (mlx().S as unknown as Record<string, (...a: unknown[]) => number>)[name];
  if (!f) throw new Error(`unknown MLX symbol ${name}`);
  return new MxArray(callOut(name, f, ...args, stream));
}

/** Element-wise `f(a)` for an mlx-c unary op (`exp`, `sigmoid`, `rsqrt`...). */
export function unary(name: UnaryOp, a: MxArray): MxArray {
  return op(`mlx_${name}`, a.handle);
}

/** Element-wise / matrix `f(a, b)` for an mlx-c binary op (`add`, `multiply`, `matmul`, `greater`...), with broadcasting. */
export function binary(name: BinaryOp, a: MxArray, b: MxArray): MxArray {
  return op(`mlx_${name}`, a.handle, b.handle);
}

export const add = (a: MxArray, b: MxArray) => binary("add", a, b);
export const subtract = (a: MxArray, b: MxArray) => binary("subtract", a, b);
export const multiply = (a: MxArray, b: MxArray) => binary("multiply", a, b);
export const divide = (a: MxArray, b: MxArray) => binary("divide", a, b);
/** Matrix product with numpy broadcasting of batch dims: `[..., m, k] @ [..., k, n] -> [..., m, n]`. */
export const matmul = (a: MxArray, b: MxArray) => binary("matmul", a, b);

/** `beta * c + alpha * (a @ b)` in one op (bias + x·Wᵀ). */
export function addmm(c: MxArray, a: MxArray, b: MxArray, alpha = 1, beta = 1): MxArray {
  return op("mlx_addmm", c.handle, a.handle, b.handle, alpha, beta);
}

/** `cond ? x : y` element-wise with broadcasting. */
export function where(cond: MxArray, x: MxArray, y: MxArray): MxArray {
  return op("mlx_where", cond.handle, x.handle, y.handle);
}

/** Reduction along one axis (`argmax`, `max`, `sum`, `mean`, `logsumexp`...). */
export function reduceAxis(name: ReduceAxisOp, a: MxArray, axis: number, keepdims = false): MxArray {
  return op(`mlx_${name}`, a.handle, axis, keepdims);
}

/** Softmax along `axis`; `precise` accumulates in float32 for half inputs. */
export function softmax(a: MxArray, axis: number, precise = false): MxArray {
  return op("mlx_softmax_axis", a.handle, axis, precise);
}

/** Indices that partition `a` along `axis` so element `kth` is in sorted position. */
export function argpartition(a: MxArray, kth: number, axis: number): MxArray {
  return op("mlx_argpartition_axis", a.handle, kth, axis);
}

/** Indices that sort `a` ascending along `axis`. */
export function argsort(a: MxArray, axis: number): MxArray {
  return op("mlx_argsort_axis", a.handle, axis);
}

/** Cumulative sum along `axis`. */
export function cumsum(a: MxArray, axis: number, reverse = false, inclusive = true): MxArray {
  return op("mlx_cumsum", a.handle, axis, reverse, inclusive);
}

export function reshape(a: MxArray, shape: readonly number[]): MxArray {
  return op("mlx_reshape", a.handle, i32(shape), shape.length);
}

/** Permutes the axes, e.g. `[0, 2, 1, 3]` turns `[B, L, H, d]` into `[B, H, L, d]`. */
export function transpose(a: MxArray, axes: readonly number[]): MxArray {
  return op("mlx_transpose_axes", a.handle, i32(axes), axes.length);
}

export function swapaxes(a: MxArray, axis1: number, axis2: number): MxArray {
  return op("mlx_swapaxes", a.handle, axis1, axis2);
}

export function expandDims(a: MxArray, axis: number): MxArray {
  return op("mlx_expand_dims", a.handle, axis);
}

export function squeeze(a: MxArray, axis: number): MxArray {
  return op("mlx_squeeze_axis", a.handle, axis);
}

export function broadcastTo(a: MxArray, shape: readonly number[]): MxArray {
  return op("mlx_broadcast_to", a.handle, i32(shape), shape.length);
}

export function astype(a: MxArray, dtype: Dtype): MxArray {
  return op("mlx_astype", a.handle, dtype);
}

/** `a[start:stop:strides]`, one entry per axis. */
export function slice(
  a: MxArray,
  start: readonly number[],
  stop: readonly number[],
  strides?: readonly number[],
): MxArray {
  const st = strides ?? start.map(() => 1);
  return op("mlx_slice", a.handle, i32(start), start.length, i32(stop), stop.length, i32(st), st.length);
}

/** `src` with `src[start:stop:strides] = update` (a new array; MLX donates `src`'s buffer when it is unshared). */
export function sliceUpdate(
  src: MxArray,
  update: MxArray,
  start: readonly number[],
  stop: readonly number[],
  strides?: readonly number[],
): MxArray {
  const st = strides ?? start.map(() => 1);
  return op(
    "mlx_slice_update",
    src.handle,
    update.handle,
    i32(start),
    start.length,
    i32(stop),
    stop.length,
    i32(st),
    st.length,
  );
}

/** Builds a temporary `mlx_vector_array` of borrowed handles, runs `f`, and frees the vector. */
export function withVector<T>(arrays: readonly MxArray[], f: (vec: Pointer) => T): T {
  const { S } = mlx();
  const handles = new BigUint64Array(new ArrayBuffer(8 * Math.max(arrays.length, 1)));
  arrays.forEach((a, i) => {
    handles[i] = BigInt(a.handle);
  });
  const vec = S.mlx_vector_array_new_data(handles, arrays.length) as Pointer | null;
  if (!vec) throw new Error("mlx_vector_array_new_data failed");
  try {
    return f(vec);
  } finally {
    S.mlx_vector_array_free(vec);
  }
}

/** Joins arrays along an existing axis. */
export function concatenate(arrays: readonly MxArray[], axis: number): MxArray {
  return withVector(arrays, (vec) => op("mlx_concatenate_axis", vec, axis));
}

/** Gathers slices of `a` at `indices` along `axis` (embedding lookup = `take(table, ids, 0)`). */
export function take(a: MxArray, indices: MxArray, axis: number): MxArray {
  return op("mlx_take_axis", a.handle, indices.handle, axis);
}

export function takeAlongAxis(a: MxArray, indices: MxArray, axis: number): MxArray {
  return op("mlx_take_along_axis", a.handle, indices.handle, axis);
}

export function putAlongAxis(a: MxArray, indices: MxArray, values: MxArray, axis: number): MxArray {
  return op("mlx_put_along_axis", a.handle, indices.handle, values.handle, axis);
}

export function zeros(shape: readonly number[], dtype: Dtype = Dtype.float32): MxArray {
  return op("mlx_zeros", i32(shape), shape.length, dtype);
}

/** An array of `shape` filled with the scalar `value`. */
export function full(shape: readonly number[], value: number, dtype: Dtype = Dtype.float32): MxArray {
  using v = scalar(value);
  return op("mlx_full", i32(shape), shape.length, v.handle, dtype);
}

/** `[start, stop)` by `step`. */
export function arange(start: number, stop: number, step = 1, dtype: Dtype = Dtype.int32): MxArray {
  return op("mlx_arange", start, stop, step, dtype);
}

/** A float32 scalar array. */
export function scalar(value: number): MxArray {
  return new MxArray(mlx().S.mlx_array_new_float32(value) as Pointer);
}

/** An int32 scalar array. */
export function scalarInt(value: number): MxArray {
  return new MxArray(mlx().S.mlx_array_new_int(value) as Pointer);
}

/** Copies host data into a new array of `shape` (`data.length` must equal the product of `shape`). */
export function fromArray(
  data: Float32Array | Int32Array | Uint32Array,
  shape: readonly number[],
  dtype?: Dtype,
): MxArray {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`fromArray: ${data.length} values for shape [${shape.join(", ")}]`);
  const own = data instanceof Float32Array ? Dtype.float32 : data instanceof Int32Array ? Dtype.int32 : Dtype.uint32;
  const raw = mlx().S.mlx_array_new_data(n ? data : new Int32Array(1), i32(shape), shape.length, own) as Pointer | null;
  const arr = new MxArray(raw);
  if (dtype === undefined || dtype === own) return arr;
  try {
    return astype(arr, dtype);
  } finally {
    arr.free();
  }
}

// ---------------------------------------------------------------- fast kernels (mlx/fast.h)

/** RMSNorm over the last axis: `x * rsqrt(mean(x², -1) + eps) * weight`. `weight` may be omitted. */
export function rmsNorm(x: MxArray, weight: MxArray | null, eps: number): MxArray {
  return op("mlx_fast_rms_norm", x.handle, weight?.handle ?? null, eps);
}

/**
 * Rotary position embedding on the last `dims` features of `x` (`[B, H, L, d]` or any ≥3-D), positions starting at
 * `offset`: one number for every row, or an int32 array `[B]` of one start per batch row (`mlx_fast_rope_dynamic`, as
 * mlx-lm's `BatchKVCache.offset`). Exactly one of `base` (rope_theta) and `freqs` must be given (MLX throws otherwise).
 */
export function rope(
  x: MxArray,
  opts: {
    dims: number;
    traditional: boolean;
    base?: number;
    scale: number;
    offset: number | MxArray;
    freqs?: MxArray;
  },
): MxArray {
  const dynamic = opts.offset instanceof MxArray;
  return op(
    dynamic ? "mlx_fast_rope_dynamic" : "mlx_fast_rope",
    x.handle,
    opts.dims,
    opts.traditional,
    optFloat(opts.base),
    opts.scale,
    opts.offset instanceof MxArray ? opts.offset.handle : opts.offset,
    opts.freqs?.handle ?? null,
  );
}

/**
 * Scaled dot-product attention `softmax(q·kᵀ·scale + mask)·v`. `q: [B, Hq, Lq, d]`, `k`/`v: [B, Hkv, Lk, d]`
 * (GQA when Hq is a multiple of Hkv). `mask`: `"causal"` (bottom-right aligned), an additive/boolean array, or none.
 */
export function scaledDotProductAttention(
  q: MxArray,
  k: MxArray,
  v: MxArray,
  scale: number,
  mask?: "causal" | MxArray,
): MxArray {
  const mode = mask === undefined ? NO_MASK : mask === "causal" ? CAUSAL : ARRAY_MASK;
  const maskArr = mask instanceof MxArray ? mask.handle : null;
  return op("mlx_fast_scaled_dot_product_attention", q.handle, k.handle, v.handle, scale, mode, maskArr, null);
}

// ---------------------------------------------------------------- quantization (affine, mlx-community layout)

/**
 * `x @ dequantize(w)ᵀ` (transpose=true, as QuantizedLinear) without materialising the float weights.
 * @param stream where it runs: the default stream unless given (e.g. one of `extraCpuStreams`).
 */
export function quantizedMatmul(
  x: MxArray,
  w: MxArray,
  scales: MxArray,
  biases: MxArray | null,
  groupSize: number,
  bits: number,
  transpose = true,
  stream: Pointer = mlx().stream,
): MxArray {
  return opOn(
    stream,
    "mlx_quantized_matmul",
    x.handle,
    w.handle,
    scales.handle,
    biases?.handle ?? null,
    transpose,
    optInt(groupSize),
    optInt(bits),
    AFFINE,
  );
}

/** Float weights from packed `w` (uint32), `scales` and `biases`: `q·scale + bias` per group. */
export function dequantize(
  w: MxArray,
  scales: MxArray,
  biases: MxArray,
  groupSize: number,
  bits: number,
  dtype?: Dtype,
): MxArray {
  return op(
    "mlx_dequantize",
    w.handle,
    scales.handle,
    biases.handle,
    optInt(groupSize),
    optInt(bits),
    AFFINE,
    null,
    optDtype(dtype),
  );
}

/** Affine-quantizes `w` along its last axis. Returns `[wq (uint32), scales, biases]`, all owned by the caller. */
export function quantize(w: MxArray, groupSize: number, bits: number): [MxArray, MxArray, MxArray] {
  const { S, stream } = mlx();
  const vec = callOut("mlx_quantize", S.mlx_quantize, w.handle, optInt(groupSize), optInt(bits), AFFINE, null, stream);
  try {
    const out = [0, 1, 2].map((i) => new MxArray(callOut("mlx_vector_array_get", S.mlx_vector_array_get, vec, i)));
    return out as [MxArray, MxArray, MxArray];
  } finally {
    S.mlx_vector_array_free(vec);
  }
}

// ---------------------------------------------------------------- evaluation

/** Evaluates every array (blocking). */
export function evaluate(...arrays: MxArray[]): void {
  withVector(arrays, (vec) => check(mlx().S.mlx_eval(vec), "mlx_eval"));
}

/** Schedules evaluation and returns at once (mlx-lm's `async_eval` pipelining). */
export function asyncEval(...arrays: MxArray[]): void {
  withVector(arrays, (vec) => check(mlx().S.mlx_async_eval(vec), "mlx_async_eval"));
}

// ---------------------------------------------------------------- random

/** A PRNG key from a seed (`mlx.random.key`). */
export function randomKey(seed: number): MxArray {
  const { S } = mlx();
  return new MxArray(callOut("mlx_random_key", S.mlx_random_key, seed));
}

/** Splits a key into two new keys (`mlx.random.split(key)`). */
export function randomSplit(key: MxArray): [MxArray, MxArray] {
  const { S, stream } = mlx();
  const [a, b] = callOut2("mlx_random_split", S.mlx_random_split, key.handle, stream);
  return [new MxArray(a), new MxArray(b)];
}

/** Samples indices from unnormalised log-probabilities along `axis`, with `key` or MLX's global PRNG. */
export function categorical(logits: MxArray, axis: number, key?: MxArray): MxArray {
  return op("mlx_random_categorical", logits.handle, axis, key?.handle ?? null);
}
