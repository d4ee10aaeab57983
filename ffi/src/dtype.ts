/**
 * MLX dtypes: the `mlx_dtype` enum of mlx-c (`mlx/c/array.h`) and the matching safetensors names.
 */

/** Values of mlx-c's `mlx_dtype` enum. */
export enum Dtype {
  bool = 0,
  uint8 = 1,
  uint16 = 2,
  uint32 = 3,
  uint64 = 4,
  int8 = 5,
  int16 = 6,
  int32 = 7,
  int64 = 8,
  float16 = 9,
  float32 = 10,
  float64 = 11,
  bfloat16 = 12,
  complex64 = 13,
}

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Record<Dtype, number> = {
  [Dtype.bool]: 1,
  [Dtype.uint8]: 1,
  [Dtype.uint16]: 2,
  [Dtype.uint32]: 4,
  [Dtype.uint64]: 8,
  [Dtype.int8]: 1,
  [Dtype.int16]: 2,
  [Dtype.int32]: 4,
  [Dtype.int64]: 8,
  [Dtype.float16]: 2,
  [Dtype.float32]: 4,
  [Dtype.float64]: 8,
  [Dtype.bfloat16]: 2,
  [Dtype.complex64]: 8,
};

const SAFETENSORS: Record<string, Dtype> = {
  BOOL: Dtype.bool,
  U8: Dtype.uint8,
  U16: Dtype.uint16,
  U32: Dtype.uint32,
  U64: Dtype.uint64,
  I8: Dtype.int8,
  I16: Dtype.int16,
  I32: Dtype.int32,
  I64: Dtype.int64,
  F16: Dtype.float16,
  F32: Dtype.float32,
  F64: Dtype.float64,
  BF16: Dtype.bfloat16,
};

/**
 * Maps a safetensors dtype string (`F16`, `BF16`, `U32`...) or a Hugging Face `torch_dtype` name
 * (`float16`, `bfloat16`, `float32`) to a {@link Dtype}.
 * @throws Error naming the dtype when it is not one MLX supports.
 */
export function parseDtype(name: string): Dtype {
  const st = SAFETENSORS[name];
  if (st !== undefined) return st;
  const byName = (Dtype as unknown as Record<string, Dtype | undefined>)[name];
  if (typeof byName === "number") return byName;
  throw new Error(`unsupported dtype '${name}'`);
}

/** True for float16, bfloat16, float32 and float64. */
export function isFloating(dtype: Dtype): boolean {
  return dtype === Dtype.float16 || dtype === Dtype.bfloat16 || dtype === Dtype.float32 || dtype === Dtype.float64;
}
