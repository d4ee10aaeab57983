/**
 * Compiled MLX functions (mlx-c `mlx_compile` over a closure), the binding's counterpart of `mx.compile`.
 *
 * The closure body is always a native C function (`ffi/native/kernels/`), never a JS callback: MLX calls the body
 * while it traces, and a JS callback entered from MLX crashed the process once several Workers used MLX. The compiled
 * closure fuses the body's element-wise ops into few kernels (on the CPU, MLX JIT-compiles each with g++ once per
 * dtype and shape class; without a compiler, or with compilation disabled, MLX runs the body's ops unfused).
 */
import type { Pointer } from "bun:ffi";
import { MxArray } from "./array.ts";
import { withVector } from "./ops.ts";
import { callOut, mlx } from "./runtime.ts";

/**
 * One compiled function. Each Worker builds its own (MLX's compile cache is per thread); `kernels.ts` keeps them for
 * the thread's life.
 */
export class CompiledFunction {
  #handle: Pointer | null;
  readonly #name: string;

  /**
   * Compiles the native closure body at `body` (an `int (*)(mlx_vector_array*, const mlx_vector_array, void*)`) with
   * `mlx_compile`. MLX owns `payload` (the body's arguments) from this call on and frees it with `dtor` once the
   * compiled function is freed, or at once when building or compiling the closure fails.
   * @param name what error messages call it (e.g. `swiglu`).
   * @param shapeless trace once for every input shape of the same rank and dtypes (mlx-lm's `shapeless=True`); else
   *   once per distinct input shapes.
   * @throws MlxError when MLX cannot build the closure or compile it.
   */
  constructor(name: string, body: Pointer, payload: Pointer, dtor: Pointer, shapeless: boolean) {
    const { S } = mlx();
    this.#name = name;
    const closure = S.mlx_closure_new_func_payload(body, payload, dtor) as Pointer | null;
    if (!closure) throw new Error(`mlx_closure_new_func_payload failed for ${name}`);
    try {
      this.#handle = callOut(`mlx_compile(${name})`, S.mlx_compile, closure, shapeless);
    } finally {
      S.mlx_closure_free(closure);
    }
  }

  /**
   * Applies the function to `inputs` (borrowed).
   * @returns the outputs, each owned by the caller (lazy until evaluated).
   * @throws MlxError with MLX's message when tracing or the ops fail; Error after `free()`.
   */
  apply(inputs: readonly MxArray[]): MxArray[] {
    if (!this.#handle) throw new Error(`compiled ${this.#name}: used after free`);
    const { S } = mlx();
    const handle = this.#handle;
    const out = withVector(inputs, (vec) => callOut(`${this.#name} (compiled)`, S.mlx_closure_apply, handle, vec));
    const arrays: MxArray[] = [];
    try {
      const n = S.mlx_vector_array_size(out) as number;
      for (let i = 0; i < n; i++) {
        arrays.push(new MxArray(callOut("mlx_vector_array_get", S.mlx_vector_array_get, out, i)));
      }
      return arrays;
    } catch (err) {
      for (const a of arrays) a.free();
      throw err;
    } finally {
      S.mlx_vector_array_free(out);
    }
  }

  /** Releases the compiled closure (and MLX's cached trace of it); a second call is a no-op. */
  free(): void {
    if (!this.#handle) return;
    mlx().S.mlx_closure_free(this.#handle);
    this.#handle = null;
  }
}
