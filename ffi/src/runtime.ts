/**
 * The per-thread MLX runtime: the opened library, MLX's error handler, the default stream and the out-pointer slots.
 *
 * MLX calls must all happen on one JS thread (reference/mlx-c-binding.md §2.3): each Bun Worker that imports this
 * module gets its own runtime. The error handler is installed right after `dlopen` and before any other call, because
 * mlx-c's default handler prints and exits the process (§2.1). The handler is a C function that keeps the message in
 * thread-local storage (`ffi/native/errors/mlxc_errors.c`), not a JS callback: mlx-c has one process-wide handler,
 * and with several Workers a JS callback would be called on the wrong thread (or after its Worker ended).
 */
import { CString, ptr, read, type Pointer } from "bun:ffi";
import { MlxError } from "./errors.ts";
import { openErrorLibrary, openLibrary, type LoadedLibrary } from "./library.ts";

export interface Runtime {
  lib: LoadedLibrary;
  S: LoadedLibrary["symbols"];
  /** The default stream every op runs on (CPU on Linux; GPU when Metal is available). */
  stream: Pointer;
  /** Whether the default stream is a GPU (Metal) stream. */
  gpu: boolean;
}

let runtime: Runtime | undefined;
let takeMessage: (() => Pointer | null) | undefined;

/** Eight 8-byte out-slots, backed by an explicitly allocated buffer so its address never moves. */
const SLOTS = new BigUint64Array(new ArrayBuffer(8 * 8));
const SLOT_BASE = ptr(SLOTS);

/** Returns the runtime, loading the library on first use. @throws Error when no MLX C library can be loaded. */
export function mlx(): Runtime {
  if (runtime) return runtime;
  const lib = openLibrary();
  const S = lib.symbols;
  const errors = openErrorLibrary();
  S.mlx_set_error_handler(errors.mlxc_errors_handler_address(), null, null);
  takeMessage = () => errors.mlxc_errors_take() as Pointer | null;
  const flag = new Uint8Array(new ArrayBuffer(8));
  check(S.mlx_metal_is_available(flag), "mlx_metal_is_available");
  const gpu = flag[0] === 1;
  const stream = gpu ? S.mlx_default_gpu_stream_new() : S.mlx_default_cpu_stream_new();
  if (!stream) throw takeError("creating the default stream");
  runtime = { lib, S, stream: stream as Pointer, gpu };
  return runtime;
}

function takeError(context: string): MlxError {
  const p = takeMessage?.();
  return new MlxError(p ? new CString(p).toString() : `${context} failed without an MLX message`, context);
}

/** Throws the captured MLX message when `rc` is non-zero. @throws MlxError */
export function check(rc: number, context: string): void {
  if (rc !== 0) throw takeError(context);
}

/**
 * Calls an mlx-c function whose first argument is one `mlx_array*` (or other handle) out-pointer and returns the new
 * handle. The slot is zeroed first, so mlx-c allocates a fresh object instead of assigning into a live one.
 * @throws MlxError carrying MLX's message when the call fails.
 */
export function callOut(name: string, f: (...args: unknown[]) => number, ...args: unknown[]): Pointer {
  SLOTS[0] = 0n;
  check(f(SLOT_BASE, ...args), name);
  return read.ptr(SLOT_BASE, 0) as Pointer;
}

/** Like {@link callOut} for functions with two handle out-pointers (`mlx_random_split`, `mlx_load_safetensors`). */
export function callOut2(name: string, f: (...args: unknown[]) => number, ...args: unknown[]): [Pointer, Pointer] {
  SLOTS[0] = 0n;
  SLOTS[1] = 0n;
  check(f(SLOT_BASE, SLOT_BASE + 8, ...args), name);
  return [read.ptr(SLOT_BASE, 0) as Pointer, read.ptr(SLOT_BASE, 8) as Pointer];
}

/** Reads a `size_t` written by an mlx-c getter such as `mlx_get_active_memory`. */
export function callSize(name: string, f: (out: number, ...rest: unknown[]) => number, ...args: unknown[]): number {
  SLOTS[2] = 0n;
  check(f(SLOT_BASE + 16, ...args), name);
  return Number(SLOTS[2]);
}

/** The extra CPU streams made so far on this thread's runtime ({@link extraCpuStreams}). */
const extraStreams: Pointer[] = [];

/**
 * `count` CPU streams besides the default one, made on first request and kept for the thread's lifetime (MLX runs
 * each CPU stream's work on a thread of its own, so ops placed on different streams run in parallel; MLX orders
 * work across streams by the arrays they share). Always the same streams for the same index: asking twice does not
 * start new threads.
 * @param count streams wanted (0 for none).
 * @returns `count` stream handles, owned by the runtime (never freed by callers); none on a GPU (Metal) runtime,
 *   whose default stream already spreads work over the GPU.
 * @throws MlxError when MLX cannot make a stream.
 */
export function extraCpuStreams(count: number): readonly Pointer[] {
  const { S, gpu } = mlx();
  if (gpu || count <= 0) return [];
  while (extraStreams.length < count) {
    const device = S.mlx_device_new_type(0, 0) as Pointer | null; // MLX_CPU, index 0
    if (!device) throw takeError("mlx_device_new_type");
    const stream = S.mlx_stream_new_device(device) as Pointer | null;
    S.mlx_device_free(device);
    if (!stream) throw takeError("mlx_stream_new_device");
    extraStreams.push(stream);
  }
  return extraStreams.slice(0, count);
}
