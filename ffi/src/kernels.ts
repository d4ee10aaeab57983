/**
 * Fused kernels: compiled MLX functions ({@link CompiledFunction}) over native closure bodies
 * (`ffi/native/kernels/mlxc_kernels.c`), for
 * - the step mlx-lm runs under `@mx.compile` in the models Ithaca serves: {@link swiglu};
 * - the fast ops that MLX's CPU backend runs as graphs of a dozen element-wise ops (`fast::rms_norm`, `fast::rope`
 *   use their fallbacks there): {@link rmsNorm}, {@link rope}. Compiled, those graphs become a few fused kernels: fewer
 *   dispatches per decode step, the same values (the same ops, in the same order, on the same dtypes).
 *
 * They run unchanged on the compatibility library and on a real libmlxc: the kernel library resolves mlx-c's functions
 * from whichever library the runtime loaded. Each thread compiles its own and keeps them for its life.
 */
import type { Pointer } from "bun:ffi";
import type { MxArray } from "./array.ts";
import { CompiledFunction } from "./compile.ts";
import { openKernelLibrary } from "./library.ts";
import * as ops from "./ops.ts";
import { mlx } from "./runtime.ts";

type KernelLibrary = ReturnType<typeof openKernelLibrary>;

let library: KernelLibrary | undefined;
/** This thread's compiled kernels, by kernel and scalar arguments. */
const compiled = new Map<string, CompiledFunction>();

const INIT_ERRORS: Record<number, string> = {
  1: "cannot open it",
  2: "another MLX C library is already bound in this process",
  3: "it lacks an mlx-c function the kernels call",
};

function kernelLibrary(): KernelLibrary {
  if (library) return library;
  const { lib } = mlx();
  const native = openKernelLibrary();
  const rc = native.mlxc_kernels_init(Buffer.from(`${lib.path}\0`));
  if (rc !== 0) {
    throw new Error(`libmlxc-kernels cannot bind ${lib.path}: ${INIT_ERRORS[rc] ?? `status ${rc}`}`);
  }
  library = native;
  return library;
}

interface Scalars {
  eps?: number;
  dims?: number;
  traditional?: boolean;
  base?: number;
  scale?: number;
}

/** The compiled kernel `name` for these scalar arguments (which `key` spells out), compiled on first use. */
function kernel(
  name: "swiglu" | "rms_norm" | "rope",
  key: string,
  shapeless: boolean,
  scalars: Scalars = {},
): CompiledFunction {
  let f = compiled.get(key);
  if (f) return f;
  const native = kernelLibrary();
  const body = {
    swiglu: native.mlxc_kernels_swiglu_address,
    rms_norm: native.mlxc_kernels_rms_norm_address,
    rope: native.mlxc_kernels_rope_address,
  }[name]() as Pointer;
  const { eps = 0, dims = 0, traditional = false, base, scale = 1 } = scalars;
  const payload = native.mlxc_kernels_params(
    mlx().stream,
    eps,
    dims,
    traditional,
    base ?? 0,
    base !== undefined,
    scale,
  );
  if (!payload) throw new Error(`mlxc_kernels_params: out of memory for ${name}`);
  f = new CompiledFunction(
    name,
    body,
    payload as Pointer,
    native.mlxc_kernels_params_free_address() as Pointer,
    shapeless,
  );
  compiled.set(key, f);
  return f;
}

function single(f: CompiledFunction, inputs: MxArray[]): MxArray {
  return f.apply(inputs)[0] as MxArray;
}

/**
 * `silu(gate) * x` as one compiled kernel: mlx-lm `models/activations.py` `swiglu` (`@partial(mx.compile,
 * shapeless=True)`), with `silu(g) = g * sigmoid(g)` as in `mlx.nn.silu`.
 * @param gate the gate projection, e.g. `[B, L, ffn]`, floating dtype.
 * @param x the up projection, same shape as `gate`. Shapes must match exactly: the trace is shapeless (reused for
 *   every shape of the same ranks and dtypes), so MLX would not check that a later call's shapes broadcast.
 * @returns `gate`'s shape and dtype, owned by the caller (lazy).
 * @throws Error when the shapes differ, or when the kernel library is missing or cannot bind the MLX C library in
 *   use; MlxError when MLX rejects the inputs.
 */
export function swiglu(gate: MxArray, x: MxArray): MxArray {
  const gs = gate.shape;
  const xs = x.shape;
  if (gs.length !== xs.length || gs.some((n, i) => n !== xs[i])) {
    throw new Error(`swiglu: gate [${gs.join(", ")}] and x [${xs.join(", ")}] must have the same shape`);
  }
  return single(kernel("swiglu", "swiglu", true), [gate, x]);
}

/**
 * RMS normalisation over the last axis, scaled by `weight`, compiled: the same values as {@link ops.rmsNorm}
 * (`mlx.fast.rms_norm`, mlx-lm's `nn.RMSNorm`), fused on the CPU. Shapeless: one trace per rank and dtypes.
 * @param x `[..., D]` floating.
 * @param weight `[D]`.
 * @param eps added to the mean square (float32).
 * @returns `x`'s shape, the promoted dtype of `x` and `weight`, owned by the caller (lazy).
 * @throws MlxError when MLX rejects the inputs; Error when the kernel library cannot be used.
 */
export function rmsNorm(x: MxArray, weight: MxArray, eps: number): MxArray {
  const e = Math.fround(eps);
  return single(kernel("rms_norm", `rms_norm ${e}`, true, { eps: e }), [x, weight]);
}

/**
 * Rotary position embedding, compiled for one new position per row (decode: `x: [B, H, 1, d]`): the same values as
 * {@link ops.rope} (`mlx.fast.rope`; MLX turns an int offset into an int32 array, the input here). Other lengths run
 * {@link ops.rope} itself: the trace depends on the length, and prompt chunks of every length would each keep one.
 * @param x `[B, H, L, d]` floating (`[B, L, d]` and higher ranks as MLX accepts them).
 * @param opts as {@link ops.rope}: `dims` rotated features (even), `traditional` (interleaved pairs), `base` or
 *   `freqs` (`[dims / 2]` float32 inverse frequencies, exactly one of the two), `scale` of positions, `offset` (the
 *   first position: a number, or an int32 `[B]` array of per-row starts).
 * @returns `x`'s shape and dtype, owned by the caller (lazy).
 * @throws MlxError when MLX rejects the arguments; Error when the kernel library cannot be used.
 */
export function rope(x: MxArray, opts: Parameters<typeof ops.rope>[1]): MxArray {
  const shape = x.shape;
  if (shape.length < 3 || shape[shape.length - 2] !== 1) return ops.rope(x, opts);
  const { dims, traditional, base, scale, offset, freqs } = opts;
  const s = Math.fround(scale);
  const f = kernel("rope", `rope ${dims} ${traditional} ${base} ${s}`, false, { dims, traditional, base, scale: s });
  if (typeof offset !== "number") return single(f, freqs ? [x, offset, freqs] : [x, offset]);
  using start = ops.scalarInt(offset);
  return single(f, freqs ? [x, start, freqs] : [x, start]);
}
