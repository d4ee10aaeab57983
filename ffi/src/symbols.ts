/**
 * The bun:ffi symbol table of the MLX C API subset Ithaca calls.
 *
 * Signatures follow mlx-c v0.6 (`mlx/c/*.h`), see `shared/reference/mlx-c-binding.md` §1.1 and §6.2:
 * by-value handle structs (`mlx_array`, `mlx_stream`, `mlx_vector_array`, maps, strings) are one pointer wide and are
 * declared `ptr`; `mlx_optional_int/float/dtype` are packed into one `u64` (see `optional.ts`); every op returns an
 * `int` status and writes its result through an out-pointer (`mlx_array* res`).
 */
import { FFIType, type FFIFunction } from "bun:ffi";

const P = FFIType.ptr;
const I = FFIType.i32;
const U = FFIType.u64;
const F = FFIType.f32;
const D = FFIType.f64;
const B = FFIType.bool;
const Z = FFIType.u64_fast;

const fn = (args: FFIType[], returns: FFIType = I): FFIFunction => ({ args, returns });
/** `int f(mlx_array* res, mlx_array a, mlx_stream s)` */
const unary = fn([P, P, P]);
/** `int f(mlx_array* res, mlx_array a, mlx_array b, mlx_stream s)` */
const binary = fn([P, P, P, P]);
/** `int f(mlx_array* res, mlx_array a, int axis, bool keepdims, mlx_stream s)` */
const reduceAxis = fn([P, P, I, B, P]);

const UNARY = [
  "sigmoid",
  "exp",
  "log",
  "negative",
  "square",
  "sqrt",
  "rsqrt",
  "tanh",
  "abs",
  "logical_not",
  "copy",
  "stop_gradient",
  "zeros_like",
] as const;
const BINARY = [
  "add",
  "subtract",
  "multiply",
  "divide",
  "maximum",
  "minimum",
  "power",
  "matmul",
  "greater_equal",
  "greater",
  "less",
  "less_equal",
  "equal",
  "not_equal",
  "logical_and",
  "logical_or",
] as const;
/** `int f(mlx_array* res, mlx_array x, mlx_distributed_group group, mlx_stream s)` */
const collective = fn([P, P, P, P]);
const COLLECTIVE = [
  "distributed_all_sum",
  "distributed_all_gather",
  "distributed_all_max",
  "distributed_all_min",
  "distributed_sum_scatter",
] as const;
const REDUCE_AXIS = ["argmax_axis", "max_axis", "min_axis", "sum_axis", "mean_axis", "logsumexp_axis"] as const;

export type UnaryOp = (typeof UNARY)[number];
export type BinaryOp = (typeof BINARY)[number];
export type ReduceAxisOp = (typeof REDUCE_AXIS)[number];
export type CollectiveOp = (typeof COLLECTIVE)[number];

const prefixed = (names: readonly string[], sig: FFIFunction) =>
  Object.fromEntries(names.map((n) => [`mlx_${n}`, sig]));

/** Every symbol the binding resolves with `dlopen`; a missing one is a load error naming it. */
export const SYMBOLS = {
  // errors, version, strings
  mlx_set_error_handler: fn([P, P, P], FFIType.void),
  mlx_version: fn([P]),
  mlx_string_new: fn([], P),
  mlx_string_data: fn([P], P),
  mlx_string_free: fn([P]),
  mlx_array_tostring: fn([P, P]),
  // devices and streams
  mlx_default_cpu_stream_new: fn([], P),
  mlx_default_gpu_stream_new: fn([], P),
  mlx_stream_free: fn([P]),
  mlx_device_new_type: fn([I, I], P),
  mlx_device_free: fn([P]),
  mlx_stream_new_device: fn([P], P),
  mlx_synchronize: fn([P]),
  mlx_metal_is_available: fn([P]),
  // memory
  mlx_set_memory_limit: fn([P, U]),
  mlx_set_cache_limit: fn([P, U]),
  mlx_set_wired_limit: fn([P, U]),
  mlx_clear_cache: fn([]),
  mlx_get_active_memory: fn([P]),
  mlx_get_cache_memory: fn([P]),
  mlx_get_peak_memory: fn([P]),
  mlx_reset_peak_memory: fn([]),
  // arrays
  mlx_array_free: fn([P]),
  mlx_array_set: fn([P, P]),
  mlx_array_new_data: fn([P, P, I, I], P),
  mlx_array_new_int: fn([I], P),
  mlx_array_new_float32: fn([F], P),
  mlx_array_ndim: fn([P], Z),
  mlx_array_shape: fn([P], P),
  mlx_array_size: fn([P], Z),
  mlx_array_nbytes: fn([P], Z),
  mlx_array_dtype: fn([P], I),
  mlx_array_eval: fn([P]),
  mlx_array_item_int32: fn([P, P]),
  mlx_array_item_float32: fn([P, P]),
  mlx_array_data_float32: fn([P], P),
  mlx_array_data_int32: fn([P], P),
  mlx_array_data_uint32: fn([P], P),
  _mlx_array_is_available: fn([P, P]),
  _mlx_array_is_row_contiguous: fn([P, P]),
  // vectors
  mlx_vector_array_new_data: fn([P, U], P),
  mlx_vector_array_size: fn([P], Z),
  mlx_vector_array_get: fn([P, P, U]),
  mlx_vector_array_free: fn([P]),
  // safetensors and maps
  mlx_load_safetensors: fn([P, P, P, P]),
  mlx_save_safetensors: fn([P, P, P]),
  mlx_map_string_to_array_new: fn([], P),
  mlx_map_string_to_array_insert: fn([P, P, P]),
  mlx_map_string_to_array_get: fn([P, P, P]),
  mlx_map_string_to_array_free: fn([P]),
  mlx_map_string_to_string_new: fn([], P),
  mlx_map_string_to_string_get: fn([P, P, P]),
  mlx_map_string_to_string_free: fn([P]),
  // evaluation
  mlx_eval: fn([P]),
  mlx_async_eval: fn([P]),
  // closures and compilation (the closure bodies are native: ffi/native/kernels/)
  mlx_closure_new_func_payload: fn([P, P, P], P),
  mlx_closure_apply: fn([P, P, P]),
  mlx_closure_free: fn([P]),
  mlx_compile: fn([P, P, B]),
  // fast kernels
  mlx_fast_rms_norm: fn([P, P, P, F, P]),
  mlx_fast_rope: fn([P, P, I, B, U, F, I, P, P]),
  mlx_fast_rope_dynamic: fn([P, P, I, B, U, F, P, P, P]),
  mlx_fast_scaled_dot_product_attention: fn([P, P, P, P, F, P, P, P, P]),
  // quantization (v0.6 signatures)
  mlx_quantized_matmul: fn([P, P, P, P, P, B, U, U, P, P]),
  mlx_dequantize: fn([P, P, P, P, U, U, P, P, U, P]),
  mlx_quantize: fn([P, P, U, U, P, P, P]),
  // element-wise, linear algebra, reductions
  ...prefixed(UNARY, unary),
  ...prefixed(BINARY, binary),
  ...prefixed(REDUCE_AXIS, reduceAxis),
  mlx_where: fn([P, P, P, P, P]),
  mlx_addmm: fn([P, P, P, P, F, F, P]),
  mlx_softmax_axis: fn([P, P, I, B, P]),
  mlx_argpartition_axis: fn([P, P, I, I, P]),
  mlx_argsort_axis: fn([P, P, I, P]),
  mlx_cumsum: fn([P, P, I, B, B, P]),
  // shapes and indexing
  mlx_reshape: fn([P, P, P, U, P]),
  mlx_transpose_axes: fn([P, P, P, U, P]),
  mlx_swapaxes: fn([P, P, I, I, P]),
  mlx_expand_dims: fn([P, P, I, P]),
  mlx_squeeze_axis: fn([P, P, I, P]),
  mlx_broadcast_to: fn([P, P, P, U, P]),
  mlx_contiguous: fn([P, P, B, P]),
  mlx_astype: fn([P, P, I, P]),
  mlx_slice: fn([P, P, P, U, P, U, P, U, P]),
  mlx_slice_update: fn([P, P, P, P, U, P, U, P, U, P]),
  mlx_concatenate_axis: fn([P, P, I, P]),
  mlx_take_axis: fn([P, P, P, I, P]),
  mlx_take_along_axis: fn([P, P, P, I, P]),
  mlx_put_along_axis: fn([P, P, P, P, I, P]),
  // creation
  mlx_zeros: fn([P, P, U, I, P]),
  mlx_full: fn([P, P, U, P, I, P]),
  mlx_arange: fn([P, D, D, D, I, P]),
  // random
  mlx_random_key: fn([P, U]),
  mlx_random_split: fn([P, P, P, P]),
  mlx_random_categorical: fn([P, P, I, P, P]),
  // distributed (v0.6 signatures: init and split return the group by value, and there is no group free; both changed
  // after v0.6.0, see distributed.ts)
  mlx_distributed_is_available: fn([P], B),
  mlx_distributed_init: fn([B, P], P),
  mlx_distributed_group_rank: fn([P]),
  mlx_distributed_group_size: fn([P]),
  mlx_distributed_group_split: fn([P, I, I], P),
  ...prefixed(COLLECTIVE, collective),
  mlx_distributed_send: fn([P, P, I, P, P]),
  mlx_distributed_recv: fn([P, P, U, I, I, P, P]),
  mlx_distributed_recv_like: fn([P, P, I, P, P]),
} satisfies Record<string, FFIFunction>;

export type SymbolTable = typeof SYMBOLS;
