/**
 * The library-probe Worker: opens the MLX C library the way an engine Worker does (`MLX_C_LIBRARY`, a system libmlxc,
 * then the compatibility library, from `MLXC_NATIVE_DIR` in a standalone binary), reads its MLX version, posts one
 * {@link LibraryProbe} and ends. MLX is never called on the main thread (DESIGN §1), so `ithaca doctor` and `/health`
 * learn about the library through this Worker, and which BLAS it computes with (./blas.ts).
 */
declare const self: Worker;

import { mlx, mlxVersion, PINNED_MLX_VERSION } from "bun-ffi-mlx-bindings";
import { classifyBlas, mappedFiles } from "./blas.ts";
import type { LibraryProbe } from "./worker-messages.ts";

let answer: LibraryProbe;
try {
  const runtime = mlx();
  answer = {
    ok: true,
    path: runtime.lib.path,
    source: runtime.lib.source,
    mlxVersion: mlxVersion(),
    pinnedMlxVersion: PINNED_MLX_VERSION,
    gpu: runtime.gpu,
    blas: classifyBlas(await mappedFiles(), process.platform),
  };
} catch (error) {
  answer = {
    ok: false,
    error: error instanceof Error ? error.message : String(error),
    pinnedMlxVersion: PINNED_MLX_VERSION,
  };
}
self.postMessage(answer);
