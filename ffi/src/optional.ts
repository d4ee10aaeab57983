/**
 * Packing of mlx-c's 8-byte optional structs into one `u64` argument (reference/mlx-c-binding.md §1.1):
 * bytes 0–3 hold the value, byte 4 the `has_value` flag. Values stay below 2^33, so they are exact JS numbers.
 */
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const FLAG = 2 ** 32;

/** `mlx_optional_int`: absent when `v` is undefined. */
export function optInt(v: number | undefined): number {
  return v === undefined ? 0 : (v >>> 0) + FLAG;
}

/** `mlx_optional_float`: the float's IEEE-754 bits plus the flag; absent when `v` is undefined. */
export function optFloat(v: number | undefined): number {
  if (v === undefined) return 0;
  F32[0] = v;
  return U32[0]! + FLAG;
}

/** `mlx_optional_dtype`: absent when `v` is undefined. */
export const optDtype = optInt;
