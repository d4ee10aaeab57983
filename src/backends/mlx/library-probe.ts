/**
 * Which MLX C library this process loads and the MLX version it carries, learnt from the library-probe Worker
 * (src/engine/library-worker.ts): the main thread never calls MLX (DESIGN §1). Reported by `ithaca doctor` and in
 * `/health` (the local backend's `mlx`). A libmlxc whose MLX version differs from the pinned one is reported, not
 * refused.
 */
import { PINNED_MLX_VERSION } from "bun-ffi-mlx-bindings";
import { engineWorkerUrl, workerEnv } from "../../engine/client.ts";
import type { LibraryProbe } from "../../engine/worker-messages.ts";

export type { LibraryProbe } from "../../engine/worker-messages.ts";

let probed: Promise<LibraryProbe> | undefined;

/**
 * Probes the MLX C library once per process (later calls share the answer).
 * @param timeoutMs how long the Worker may take (milliseconds); past it the answer is `ok: false`.
 * @returns the library's path, source (`env`, `system`, `compat`, `bundled`), MLX version and the pinned version, or
 *   `ok: false` with the reason none could be opened. Never rejects.
 */
export function probeMlxLibrary(timeoutMs = 60_000): Promise<LibraryProbe> {
  probed ??= new Promise<LibraryProbe>((resolve) => {
    const worker = new Worker(engineWorkerUrl("library-worker"), { env: workerEnv() });
    const finish = (answer: LibraryProbe) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(answer);
    };
    const failed = (error: string): LibraryProbe => ({ ok: false, error, pinnedMlxVersion: PINNED_MLX_VERSION });
    const timer = setTimeout(() => finish(failed(`the MLX library probe took over ${timeoutMs} ms`)), timeoutMs);
    worker.onmessage = (event: MessageEvent<LibraryProbe>) => finish(event.data);
    worker.onerror = (event) => finish(failed(`the MLX library probe failed: ${event.message}`));
  });
  return probed;
}

/** The library as `/health` shows it (snake_case, the version check spelled out). */
export function describeLibrary(probe: LibraryProbe): Record<string, unknown> {
  if (!probe.ok) return { ok: false, error: probe.error, pinned_mlx_version: probe.pinnedMlxVersion };
  return {
    ok: true,
    library: probe.path,
    source: probe.source,
    mlx_version: probe.mlxVersion,
    pinned_mlx_version: probe.pinnedMlxVersion,
    matches_pinned: probe.mlxVersion === probe.pinnedMlxVersion,
    device: probe.gpu ? "gpu" : "cpu",
    blas: probe.blas,
  };
}
