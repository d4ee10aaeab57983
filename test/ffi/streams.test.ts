/**
 * Extra CPU streams (`extraCpuStreams`) and ops placed on them: the same streams on every call, and a quantized
 * matmul cut into row bands computed on different streams is bit-identical to the whole one.
 */
import { expect, test } from "bun:test";
import { extraCpuStreams, liveArrays, mlx, ops } from "bun-ffi-mlx-bindings";
import { randomArray } from "./reference.ts";

test("extra CPU streams: distinct from the default stream and from each other, the same ones when asked again", () => {
  expect(extraCpuStreams(0)).toEqual([]);
  const two = extraCpuStreams(2);
  expect(two.length).toBe(2);
  expect(new Set([mlx().stream, ...two]).size).toBe(3);
  const three = extraCpuStreams(3);
  expect(three.slice(0, 2)).toEqual([...two]);
  expect(extraCpuStreams(1)).toEqual([two[0]!]);
});

test("a quantized matmul cut into row bands on three streams is bit-identical to the whole one", () => {
  const base = liveArrays();
  {
    const [out, inDims, rows] = [300, 256, 5];
    using w = ops.fromArray(randomArray(out * inDims, 7), [out, inDims]);
    const [wq, scales, biases] = ops.quantize(w, 64, 4);
    using x = ops.fromArray(randomArray(rows * inDims, 8), [1, rows, inDims]);
    using whole = ops.quantizedMatmul(x, wq, scales, biases, 64, 4, true);
    const streams = [mlx().stream, ...extraCpuStreams(2)];
    const cuts = [0, 100, 220, out];
    const bands = streams.map((stream, i) => {
      const rowsOf = (a: typeof wq) => ops.slice(a, [cuts[i]!, 0], [cuts[i + 1]!, a.shape[1]!]);
      using bw = rowsOf(wq);
      using bs = rowsOf(scales);
      using bb = rowsOf(biases);
      return ops.quantizedMatmul(x, bw, bs, bb, 64, 4, true, stream);
    });
    using joined = ops.concatenate(bands, -1);
    for (const band of bands) band.free();
    expect(joined.shape).toEqual([1, rows, out]);
    const [a, b] = [whole.toFloat32(), joined.toFloat32()];
    expect(Array.from(b)).toEqual(Array.from(a));
    for (const t of [wq, scales, biases]) t.free();
  }
  expect(liveArrays()).toBe(base);
});
