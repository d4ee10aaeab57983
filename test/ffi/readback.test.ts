/**
 * Copying arrays out (MxArray.toFloat32/toInt32/toUint32): evaluated row-contiguous arrays are read as they are (no op
 * added to the stream), anything else through MLX's astype and contiguous; both paths give MLX's values.
 */
import { expect, test } from "bun:test";
import { Dtype, liveArrays, ops } from "bun-ffi-mlx-bindings";

test("int32 and uint32 read as each other with MLX's astype wrap-around; nothing is left allocated", () => {
  const base = liveArrays();
  {
    using u = ops.fromArray(Uint32Array.from([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]), [5]);
    using viaMlx = ops.astype(u, Dtype.int32);
    expect(u.toInt32()).toEqual(viaMlx.toInt32());
    expect(u.toInt32()).toEqual(Int32Array.from([0, 1, 2 ** 31 - 1, -(2 ** 31), -1]));
    using i = ops.fromArray(Int32Array.from([-1, 5]), [2]);
    expect(i.toUint32()).toEqual(Uint32Array.from([2 ** 32 - 1, 5]));
  }
  expect(liveArrays()).toBe(base);
});

test("views read their own elements: a row slice (offset), a transpose (strided), a broadcast", () => {
  using a = ops.fromArray(
    Float32Array.from({ length: 12 }, (_, k) => k),
    [3, 4],
  );
  using row = ops.slice(a, [1, 0], [2, 4]);
  expect(row.toFloat32()).toEqual(Float32Array.from([4, 5, 6, 7]));
  using t = ops.transpose(a, [1, 0]);
  expect(t.toFloat32()).toEqual(Float32Array.from([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]));
  using col = ops.slice(a, [0, 2], [3, 3]);
  expect(col.toFloat32()).toEqual(Float32Array.from([2, 6, 10]));
  using b = ops.broadcastTo(row, [2, 4]);
  expect(b.toFloat32()).toEqual(Float32Array.from([4, 5, 6, 7, 4, 5, 6, 7]));
});

test("other dtypes convert on the MLX side; argmax's uint32 reads as int32", () => {
  using h = ops.fromArray(Float32Array.from([0.5, -2, 3]), [3], Dtype.float16);
  expect(h.toFloat32()).toEqual(Float32Array.from([0.5, -2, 3]));
  using logits = ops.fromArray(Float32Array.from([0, 9, 1, 7, 8, 2]), [2, 3]);
  using best = ops.reduceAxis("argmax_axis", logits, -1);
  expect(best.toInt32()).toEqual(Int32Array.from([1, 1]));
});
