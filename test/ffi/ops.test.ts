/**
 * The MLX binding against plain float64 TypeScript references on random inputs, plus error and ownership behaviour.
 */
import { describe, expect, test } from "bun:test";
import { Dtype, liveArrays, MlxError, mlx, mlxVersion, ops } from "bun-ffi-mlx-bindings";
import { matmulRef, maxAbsDiff, randomArray, rmsNormRef, ropeRef, sdpaRef, softmaxRef } from "./reference.ts";

const TOL = 1e-4;

describe("bun-ffi-mlx-bindings ops vs float64 reference", () => {
  test("library loads and reports the pinned MLX version", () => {
    expect(mlxVersion()).toBe("0.32.4");
    expect(mlx().lib.source).toMatch(/^(env|system|compat)$/);
  });

  test("matmul [7,13] @ [13,5]", () => {
    const a = randomArray(7 * 13, 1);
    const b = randomArray(13 * 5, 2);
    using x = ops.fromArray(a, [7, 13]);
    using y = ops.fromArray(b, [13, 5]);
    using z = ops.matmul(x, y);
    expect(z.shape).toEqual([7, 5]);
    expect(maxAbsDiff(z.toFloat32(), matmulRef(a, b, 7, 13, 5))).toBeLessThan(TOL);
  });

  test("rms_norm over the last axis [3,4,32]", () => {
    const xs = randomArray(3 * 4 * 32, 3);
    const ws = randomArray(32, 4);
    using x = ops.fromArray(xs, [3, 4, 32]);
    using w = ops.fromArray(ws, [32]);
    using y = ops.rmsNorm(x, w, 1e-6);
    expect(maxAbsDiff(y.toFloat32(), rmsNormRef(xs, ws, 32, 1e-6))).toBeLessThan(TOL);
  });

  test("softmax over the last axis [6,50]", () => {
    const xs = randomArray(6 * 50, 5).map((v) => v * 8);
    using x = ops.fromArray(xs, [6, 50]);
    using y = ops.softmax(x, -1, true);
    expect(maxAbsDiff(y.toFloat32(), softmaxRef(xs, 50))).toBeLessThan(1e-6);
  });

  test("rope (non-traditional) at an offset [1,2,5,16]", () => {
    const xs = randomArray(2 * 5 * 16, 6);
    using x = ops.fromArray(xs, [1, 2, 5, 16]);
    using y = ops.rope(x, { dims: 16, traditional: false, base: 10000, scale: 1, offset: 7 });
    expect(maxAbsDiff(y.toFloat32(), ropeRef(xs, 5, 16, 10000, 7))).toBeLessThan(TOL);
  });

  test("scaled_dot_product_attention, GQA, causal and unmasked", () => {
    const [H, Hkv, Lq, Lk, d] = [4, 2, 3, 6, 8];
    const qs = randomArray(H * Lq * d, 7);
    const ks = randomArray(Hkv * Lk * d, 8);
    const vs = randomArray(Hkv * Lk * d, 9);
    using q = ops.fromArray(qs, [1, H, Lq, d]);
    using k = ops.fromArray(ks, [1, Hkv, Lk, d]);
    using v = ops.fromArray(vs, [1, Hkv, Lk, d]);
    const scale = 1 / Math.sqrt(d);
    for (const causal of [false, true]) {
      using o = ops.scaledDotProductAttention(q, k, v, scale, causal ? "causal" : undefined);
      expect(o.shape).toEqual([1, H, Lq, d]);
      expect(maxAbsDiff(o.toFloat32(), sdpaRef(qs, ks, vs, H, Hkv, Lq, Lk, d, scale, causal))).toBeLessThan(TOL);
    }
  });

  test("dtype conversion round-trips through bfloat16 and float16 within their precision", () => {
    const xs = randomArray(64, 10);
    using x = ops.fromArray(xs, [64]);
    for (const [dt, tol] of [
      [Dtype.bfloat16, 1e-2],
      [Dtype.float16, 1e-3],
    ] as const) {
      using h = ops.astype(x, dt);
      expect(h.dtype).toBe(dt);
      expect(maxAbsDiff(h.toFloat32(), xs)).toBeLessThan(tol);
    }
  });

  test("quantize then quantized_matmul matches matmul with the dequantized weights", () => {
    const ws = randomArray(32 * 128, 11);
    const xs = randomArray(3 * 128, 12);
    using w = ops.fromArray(ws, [32, 128]);
    using x = ops.fromArray(xs, [3, 128]);
    const [wq, scales, biases] = ops.quantize(w, 64, 4);
    using _wq = wq;
    using _s = scales;
    using _b = biases;
    using deq = ops.dequantize(wq, scales, biases, 64, 4);
    using y = ops.quantizedMatmul(x, wq, scales, biases, 64, 4, true);
    expect(y.shape).toEqual([3, 32]);
    const wd = deq.toFloat32();
    const wdT = new Float32Array(128 * 32);
    for (let i = 0; i < 32; i++) for (let j = 0; j < 128; j++) wdT[j * 32 + i] = wd[i * 128 + j]!;
    expect(maxAbsDiff(y.toFloat32(), matmulRef(xs, wdT, 3, 128, 32))).toBeLessThan(1e-3);
    // 4-bit quantization error is bounded by half a step of each group's scale.
    expect(maxAbsDiff(wd, ws)).toBeLessThan(0.15);
  });
});

describe("errors and ownership", () => {
  test("a shape mismatch throws MlxError carrying MLX's message, and MLX keeps working", () => {
    using a = ops.fromArray(randomArray(6, 1), [2, 3]);
    let caught: unknown;
    try {
      ops.matmul(a, a);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MlxError);
    expect((caught as MlxError).message).toContain("[matmul]");
    expect((caught as MlxError).operation).toBe("mlx_matmul");
    using ok = ops.add(a, a);
    expect(Array.from(ok.toFloat32())).toEqual(Array.from(randomArray(6, 1)).map((v) => Math.fround(v) * 2));
  });

  test("freeing returns the live-array count to its baseline; use after free throws", () => {
    const base = liveArrays();
    const a = ops.fromArray(new Float32Array([1, 2, 3]), [3]);
    {
      using b = ops.multiply(a, a);
      expect(liveArrays()).toBe(base + 2);
      expect(Array.from(b.toFloat32())).toEqual([1, 4, 9]);
    }
    a.free();
    a.free();
    expect(liveArrays()).toBe(base);
    expect(() => a.shape).toThrow("used after free");
  });

  test("fromArray rejects a data/shape mismatch with a clear error", () => {
    expect(() => ops.fromArray(new Float32Array(5), [2, 3])).toThrow("5 values for shape [2, 3]");
  });
});
