/** Worker used by threads.test.ts: raises an MLX error in this thread and reports the message it received. */
declare const self: Worker;
import { ops } from "bun-ffi-mlx-bindings";

self.onmessage = () => {
  using a = ops.fromArray(new Float32Array(6), [2, 3]);
  try {
    ops.reshape(a, [7]);
    self.postMessage("no error");
  } catch (e) {
    self.postMessage((e as Error).message);
  }
};
