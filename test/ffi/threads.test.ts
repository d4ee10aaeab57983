/**
 * MLX errors from several threads: mlx-c has one process-wide error handler, so each thread must still get its own
 * message, and a Worker that ended must not break error reporting on the main thread (it used to crash the process
 * when the handler was a JS callback of that Worker).
 */
import { expect, test } from "bun:test";
import { ops } from "bun-ffi-mlx-bindings";

async function errorInWorker(): Promise<string> {
  const w = new Worker(new URL("./error-worker.ts", import.meta.url).href);
  const msg = await new Promise<string>((resolve) => {
    w.onmessage = (e) => resolve(e.data as string);
    w.postMessage("go");
  });
  w.terminate();
  return msg;
}

test("each thread gets its own MLX error message; ended Workers leave the main thread working", async () => {
  using a = ops.fromArray(new Float32Array(6), [2, 3]);
  expect(() => ops.matmul(a, a)).toThrow("[matmul]");
  const [m1, m2] = await Promise.all([errorInWorker(), errorInWorker()]);
  expect(m1).toContain("[reshape]");
  expect(m2).toContain("[reshape]");
  await Bun.sleep(50);
  expect(() => ops.matmul(a, a)).toThrow("[matmul]");
  using ok = ops.add(a, a);
  expect(ok.shape).toEqual([2, 3]);
});
