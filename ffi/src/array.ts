/**
 * `MxArray`: an owned `mlx_array` handle.
 *
 * Ownership is explicit (reference/mlx-c-binding.md §2.2): every op returns a new array that the caller owns and must
 * release with `free()` or a `using` declaration. Freeing drops one reference to MLX's graph node, so intermediates can
 * be freed as soon as they have been used as inputs, before evaluation. `liveArrays()` counts handles created through
 * this module and not yet freed — the leak check used by the tests.
 */
import { CString, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { Dtype } from "./dtype.ts";
import { callOut, check, mlx } from "./runtime.ts";

let live = 0;

/** The dtypes the binding copies out, and mlx-c's getter of each. */
type Readable = Dtype.float32 | Dtype.int32 | Dtype.uint32;
const GETTERS = {
  [Dtype.float32]: "mlx_array_data_float32",
  [Dtype.int32]: "mlx_array_data_int32",
  [Dtype.uint32]: "mlx_array_data_uint32",
} as const;
const INT32_BITS: ReadonlySet<Dtype> = new Set([Dtype.int32, Dtype.uint32]);

/** Number of `MxArray` handles alive in this thread (created and not freed). */
export function liveArrays(): number {
  return live;
}

export class MxArray implements Disposable {
  #handle: Pointer | null;

  /** Takes ownership of a raw handle returned by mlx-c. @throws Error for a null handle. */
  constructor(handle: Pointer | null) {
    if (!handle) throw new Error("MxArray: null mlx_array handle");
    this.#handle = handle;
    live++;
  }

  /** The raw `mlx_array` (its `ctx` pointer) for FFI calls. @throws Error after `free()`. */
  get handle(): Pointer {
    if (!this.#handle) throw new Error("MxArray: used after free");
    return this.#handle;
  }

  get freed(): boolean {
    return this.#handle === null;
  }

  /** Releases this handle; a second call is a no-op. */
  free(): void {
    if (!this.#handle) return;
    const h = this.#handle;
    this.#handle = null;
    live--;
    check(mlx().S.mlx_array_free(h), "mlx_array_free");
  }

  [Symbol.dispose](): void {
    this.free();
  }

  get ndim(): number {
    return mlx().S.mlx_array_ndim(this.handle);
  }

  /** The shape, e.g. `[batch, seq, hidden]`. */
  get shape(): number[] {
    const { S } = mlx();
    const n = S.mlx_array_ndim(this.handle);
    if (n === 0) return [];
    const p = S.mlx_array_shape(this.handle) as Pointer;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = read.i32(p, 4 * i);
    return out;
  }

  get dtype(): Dtype {
    return mlx().S.mlx_array_dtype(this.handle) as Dtype;
  }

  /** Number of elements. */
  get size(): number {
    return mlx().S.mlx_array_size(this.handle);
  }

  /** Size in bytes. */
  get nbytes(): number {
    return mlx().S.mlx_array_nbytes(this.handle);
  }

  /** Evaluates the array's graph (blocking). @throws MlxError */
  eval(): this {
    check(mlx().S.mlx_array_eval(this.handle), "mlx_array_eval");
    return this;
  }

  /** Evaluates and returns the single int32 element. @throws MlxError when the array is not one element. */
  itemInt(): number {
    const out = new Int32Array(new ArrayBuffer(8));
    check(mlx().S.mlx_array_item_int32(out, this.handle), "mlx_array_item_int32");
    return out[0]!;
  }

  /** Evaluates and returns the single float32 element. */
  itemFloat(): number {
    const out = new Float32Array(new ArrayBuffer(8));
    check(mlx().S.mlx_array_item_float32(out, this.handle), "mlx_array_item_float32");
    return out[0]!;
  }

  /** Evaluates and copies the data out as float32 (converting other dtypes on the MLX side). */
  toFloat32(): Float32Array {
    return new Float32Array(this.#copyOut(Dtype.float32));
  }

  /** Evaluates and copies the data out as int32. */
  toInt32(): Int32Array {
    return new Int32Array(this.#copyOut(Dtype.int32));
  }

  /** Evaluates and copies the data out as uint32 (e.g. packed quantized weights). */
  toUint32(): Uint32Array {
    return new Uint32Array(this.#copyOut(Dtype.uint32));
  }

  /**
   * Waits for this array alone and copies it out. An evaluated row-contiguous array of the wanted dtype (or the other
   * 32-bit integer dtype: MLX's astype between int32 and uint32 keeps the bits) is read as it is, adding no op to the
   * stream, so a read-back never queues behind work scheduled since (the next decode step, under async_eval
   * pipelining). Anything else is converted and made contiguous by MLX first.
   */
  #copyOut(dtype: Readable): ArrayBuffer {
    const { S, stream } = mlx();
    this.eval();
    const own = this.dtype;
    const sameBits = own === dtype || (INT32_BITS.has(own) && INT32_BITS.has(dtype));
    if (sameBits && this.#rowContiguous()) return this.#bytes(own as Readable);
    const src = own === dtype ? this : new MxArray(callOut("mlx_astype", S.mlx_astype, this.handle, dtype, stream));
    try {
      // A contiguous row-major copy: views produced by transpose/slice are strided.
      using c = new MxArray(callOut("mlx_contiguous", S.mlx_contiguous, src.handle, false, stream));
      c.eval();
      return c.#bytes(dtype);
    } finally {
      if (src !== this) src.free();
    }
  }

  #rowContiguous(): boolean {
    const flag = new Uint8Array(new ArrayBuffer(8));
    check(mlx().S._mlx_array_is_row_contiguous(flag, this.handle), "_mlx_array_is_row_contiguous");
    return flag[0] === 1;
  }

  /** A copy of the elements of this evaluated, row-contiguous array, whose dtype is `own`. */
  #bytes(own: Readable): ArrayBuffer {
    const bytes = this.nbytes;
    if (bytes === 0) return new ArrayBuffer(0);
    const getter = GETTERS[own];
    const p = mlx().S[getter](this.handle) as Pointer | null;
    if (!p) throw new Error(`${getter} returned NULL`);
    return toArrayBuffer(p, 0, bytes).slice(0);
  }

  /** Debug string from `mlx_array_tostring`. */
  toString(): string {
    const { S } = mlx();
    const str = callOut("mlx_array_tostring", S.mlx_array_tostring, this.handle);
    try {
      const p = S.mlx_string_data(str) as Pointer;
      return new CString(p).toString();
    } finally {
      S.mlx_string_free(str);
    }
  }
}
