/**
 * Fused kernels (ffi/src/kernels.ts): each compiled function against the uncompiled ops it stands for (bit for bit)
 * and a float64 reference, with trace reuse across shapes and ranks, in several Workers at once (the closure bodies
 * are native: no JS runs inside MLX), and SwiGLU as the same fused kernel mlx-lm builds.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pointer } from "bun:ffi";
import {
  CompiledFunction,
  Dtype,
  ERRORS_LIBRARY,
  kernels,
  liveArrays,
  type MxArray,
  mlx,
  mlxVersion,
  openKernelLibrary,
  ops,
} from "bun-ffi-mlx-bindings";
import { PYTHON, REPO } from "../helpers/paths.ts";
import { maxAbsDiff, randomArray } from "./reference.ts";

/** The uncompiled composition: `silu(gate) * x` with `silu(g) = g * sigmoid(g)`. */
function swigluOps(gate: MxArray, x: MxArray): MxArray {
  using sig = ops.unary("sigmoid", gate);
  using silu = ops.multiply(gate, sig);
  return ops.multiply(silu, x);
}

const swigluRef = (g: Float32Array, x: Float32Array) =>
  Float64Array.from(g, (v, i) => (v / (1 + Math.exp(-v))) * x[i]!);

const inputs = (n: number, seed: number) => ({
  gate: randomArray(n, seed).map((v) => v * 6),
  x: randomArray(n, seed + 1).map((v) => v * 3),
});

describe("swiglu (compiled)", () => {
  test("float32: bit-identical to the uncompiled ops and within 1e-5 of float64, across shapes and ranks", () => {
    const base = liveArrays();
    for (const shape of [
      [1, 1, 512],
      [2, 7, 64],
      [3, 33],
      [4, 1, 5, 8],
      [1, 1, 3072],
    ]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const { gate, x } = inputs(n, n);
      using g = ops.fromArray(gate, shape);
      using u = ops.fromArray(x, shape);
      using fused = kernels.swiglu(g, u);
      using plain = swigluOps(g, u);
      expect(fused.shape).toEqual(shape);
      expect(fused.dtype).toBe(Dtype.float32);
      const got = fused.toFloat32();
      expect(got).toEqual(plain.toFloat32());
      const ref = swigluRef(gate, x);
      const scale = Math.max(...ref.map(Math.abs));
      expect(maxAbsDiff(got, ref) / scale).toBeLessThan(1e-5);
    }
    expect(liveArrays()).toBe(base);
  });

  test("float16 and bfloat16: same dtype out, equal to the uncompiled ops", () => {
    const { gate, x } = inputs(4 * 96, 7);
    for (const dtype of [Dtype.float16, Dtype.bfloat16]) {
      using g = ops.fromArray(gate, [4, 96], dtype);
      using u = ops.fromArray(x, [4, 96], dtype);
      using fused = kernels.swiglu(g, u);
      using plain = swigluOps(g, u);
      expect(fused.dtype).toBe(dtype);
      expect(fused.toFloat32()).toEqual(plain.toFloat32());
    }
  });

  test("inputs of different shapes are refused before MLX sees them (the shapeless trace would not check them)", () => {
    using a = ops.fromArray(new Float32Array(6).fill(1), [2, 3]);
    using b = ops.fromArray(new Float32Array(8).fill(2), [2, 4]);
    using row = ops.fromArray(new Float32Array(3).fill(2), [3]);
    expect(() => kernels.swiglu(a, b)).toThrow("swiglu: gate [2, 3] and x [2, 4] must have the same shape");
    expect(() => kernels.swiglu(a, row)).toThrow("must have the same shape");
    using y = kernels.swiglu(a, a);
    expect(y.toFloat32()).toEqual(new Float32Array(6).fill(Math.fround(1 / (1 + Math.exp(-1)))));
  });

  test("a lazy input (a matmul still unevaluated) works like an evaluated one", () => {
    const { gate, x } = inputs(6 * 16, 11);
    using a = ops.fromArray(gate, [6, 16]);
    using eye = ops.fromArray(
      Float32Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 1 : 0)),
      [16, 16],
    );
    using g = ops.matmul(a, eye);
    using u = ops.fromArray(x, [6, 16]);
    using fused = kernels.swiglu(g, u);
    using plain = swigluOps(a, u);
    expect(fused.toFloat32()).toEqual(plain.toFloat32());
  });

  test("several Workers compile and run it at once; the main thread keeps working after they end", async () => {
    const { gate, x } = inputs(2 * 3 * 40, 21);
    const shape = [2, 3, 40];
    const run = async () => {
      const w = new Worker(new URL("./kernel-worker.ts", import.meta.url).href);
      const out = await new Promise<Float32Array | string>((resolve) => {
        w.onmessage = (e) => resolve(e.data as Float32Array | string);
        w.postMessage({ gate, x, shape });
      });
      w.terminate();
      return out;
    };
    const outs = await Promise.all([run(), run(), run()]);
    using g = ops.fromArray(gate, shape);
    using u = ops.fromArray(x, shape);
    using plain = swigluOps(g, u);
    const want = plain.toFloat32();
    for (const out of outs) expect(out).toEqual(want);
    await Bun.sleep(50);
    using again = kernels.swiglu(g, u);
    expect(again.toFloat32()).toEqual(want);
  });

  test("MLX fuses it into the same CPU kernel as mlx-lm's @mx.compile swiglu", () => {
    const dir = mkdtempSync(join(tmpdir(), "ithaca-jit-"));
    try {
      const env = { ...process.env, TMPDIR: dir };
      const ours = Bun.spawnSync(
        [
          process.execPath,
          "-e",
          `import { kernels, ops } from "bun-ffi-mlx-bindings";
           using g = ops.fromArray(new Float32Array(64).fill(0.5), [1, 1, 64]);
           using y = kernels.swiglu(g, g);
           y.eval();`,
        ],
        { cwd: REPO, env },
      );
      expect(ours.exitCode).toBe(0);
      const jit = join(dir, "mlx", mlxVersion(), "cpu");
      const built = readdirSync(jit).filter((f) => f.startsWith("lib"));
      expect(built).toHaveLength(1);
      expect(built[0]).toMatch(/Sigmoid.*Multiply.*Multiply/);
      const theirs = Bun.spawnSync(
        [
          PYTHON,
          "-c",
          "import mlx.core as mx; from mlx_lm.models.activations import swiglu; g = mx.full((1, 1, 64), 0.5); mx.eval(swiglu(g, g))",
        ],
        { env },
      );
      expect(theirs.exitCode).toBe(0);
      expect(readdirSync(jit).filter((f) => f.startsWith("lib"))).toEqual(built);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Exact equality that treats NaN as equal to NaN. */
function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe("rms_norm (compiled)", () => {
  test("bit-identical to mlx.fast.rms_norm in float32, bfloat16 and float16, ranks 3 and 4", () => {
    for (const dtype of [Dtype.float32, Dtype.bfloat16, Dtype.float16]) {
      for (const shape of [
        [1, 1, 256],
        [2, 5, 256],
        [1, 1, 8, 32],
        [3, 1, 4, 32],
      ]) {
        const d = shape.at(-1)!;
        const n = shape.reduce((a, b) => a * b, 1);
        using x = ops.fromArray(
          randomArray(n, n).map((v) => v * 3),
          shape,
          dtype,
        );
        using w = ops.fromArray(randomArray(d, 3), [d], dtype);
        using fused = kernels.rmsNorm(x, w, 1e-6);
        using plain = ops.rmsNorm(x, w, 1e-6);
        expect(fused.dtype).toBe(dtype);
        expect(bitsEqual(fused.toFloat32(), plain.toFloat32())).toBe(true);
      }
    }
  });

  test("each eps compiles its own kernel", () => {
    using x = ops.fromArray(Float32Array.from([1e-3, -2e-3, 3e-3, 0]), [1, 4]);
    using w = ops.fromArray(new Float32Array(4).fill(1), [4]);
    for (const eps of [1e-6, 1e-2]) {
      using fused = kernels.rmsNorm(x, w, eps);
      using plain = ops.rmsNorm(x, w, eps);
      expect(bitsEqual(fused.toFloat32(), plain.toFloat32())).toBe(true);
    }
  });
});

describe("rope (compiled for one position per row)", () => {
  test("bit-identical to mlx.fast.rope: base or freqs, traditional or not, partial dims, offsets, batch offsets", () => {
    using freqs = ops.fromArray(
      Float32Array.from({ length: 16 }, (_, i) => 1 / 10000 ** (i / 16)),
      [16],
    );
    for (const dtype of [Dtype.float32, Dtype.bfloat16]) {
      for (const [shape, dims, traditional] of [
        [[1, 8, 1, 32], 32, false],
        [[2, 4, 1, 32], 32, true],
        [[1, 4, 1, 64], 32, false],
        [[1, 2, 3, 32], 32, false], // several positions: mlx.fast.rope itself
      ] as const) {
        const size = shape.reduce((a: number, b: number) => a * b, 1);
        using x = ops.fromArray(randomArray(size, 9), [...shape], dtype);
        for (const offset of [0, 5, 70000]) {
          for (const angles of [{ base: 1e6 }, { freqs }]) {
            const opts = { dims, traditional, scale: 1, offset, ...angles };
            using fused = kernels.rope(x, opts);
            using plain = ops.rope(x, opts);
            expect(bitsEqual(fused.toFloat32(), plain.toFloat32())).toBe(true);
          }
        }
        if (shape[0] === 2) {
          using starts = ops.fromArray(Int32Array.from([3, 17]), [2]);
          const opts = { dims, traditional, scale: 0.5, offset: starts, base: 1e4 };
          using fused = kernels.rope(x, opts);
          using plain = ops.rope(x, opts);
          expect(bitsEqual(fused.toFloat32(), plain.toFloat32())).toBe(true);
        }
      }
    }
  });
});

describe("CompiledFunction", () => {
  test("compiles a native body with its payload, applies it, and refuses use after free", () => {
    const native = openKernelLibrary();
    using g = ops.fromArray(Float32Array.from([-1, 0, 2]), [3]);
    const payload = native.mlxc_kernels_params(mlx().stream, 0, 0, false, 0, false, 1) as Pointer;
    const f = new CompiledFunction(
      "swiglu",
      native.mlxc_kernels_swiglu_address() as Pointer,
      payload,
      native.mlxc_kernels_params_free_address() as Pointer,
      true,
    );
    const [y] = f.apply([g, g]);
    using plain = swigluOps(g, g);
    expect(y!.toFloat32()).toEqual(plain.toFloat32());
    y!.free();
    f.free();
    f.free();
    expect(() => f.apply([g, g])).toThrow("compiled swiglu: used after free");
  });
});

describe("the kernel library", () => {
  test("binds one MLX C library per process: the one loaded; another or a missing one is refused", () => {
    using g = ops.fromArray(new Float32Array(4).fill(1), [4]);
    using y = kernels.swiglu(g, g); // binds the library the runtime loaded
    const native = openKernelLibrary();
    const init = (path: string) => native.mlxc_kernels_init(Buffer.from(`${path}\0`));
    expect(init(mlx().lib.path)).toBe(0);
    expect(init(ERRORS_LIBRARY)).toBe(2);
    expect(init(join(tmpdir(), "no-such-libmlxc.so"))).toBe(1);
    expect(y.toFloat32()).toEqual(new Float32Array(4).fill(Math.fround(1 / (1 + Math.exp(-1)))));
  });
});
