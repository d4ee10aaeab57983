/** Worker used by kernels.test.ts: runs the compiled SwiGLU in this thread and reports its values. */
declare const self: Worker;
import { kernels, ops } from "bun-ffi-mlx-bindings";

self.onmessage = (e: MessageEvent<{ gate: Float32Array; x: Float32Array; shape: number[] }>) => {
  const { gate, x, shape } = e.data;
  try {
    using g = ops.fromArray(gate, shape);
    using u = ops.fromArray(x, shape);
    using y = kernels.swiglu(g, u);
    self.postMessage(y.toFloat32());
  } catch (err) {
    self.postMessage((err as Error).message);
  }
};
