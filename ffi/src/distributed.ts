/**
 * MLX distributed: process groups and collectives (`mlx/distributed/*.h`) through mlx-c v0.6.0's
 * `mlx/c/distributed_group.h` and `mlx/c/distributed.h`.
 *
 * A rank is one process. {@link initDistributed} joins the group of all ranks; the collectives then build lazy arrays
 * whose evaluation does the communication, so every rank must evaluate the matching collectives in the same order
 * (a collective that one rank skips blocks its peers). With the ring backend (TCP, `ring.ts`) arrays are sent as raw
 * bytes: peers must agree on shapes and dtypes, which nothing checks on the wire.
 *
 * mlx-c v0.6.0 has no `mlx_distributed_group_free`, so group handles cannot be released; this module keeps one
 * {@link Group} per backend (MLX caches the backend's group the same way) and each `split` leaks one small handle.
 * After v0.6.0 mlx-c added the free and changed `mlx_distributed_init`/`_group_split` to out-parameter functions with
 * the same names: {@link initDistributed} refuses such a library (it would be called with the wrong arguments).
 *
 * Collectives run on a CPU stream: MLX has no GPU implementation of them (Metal's `eval_gpu` throws); inputs computed
 * on the GPU are synchronised by MLX.
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { MxArray } from "./array.ts";
import type { Dtype } from "./dtype.ts";
import { ringConfigFromEnvironment, setRingEnvironment } from "./ring.ts";
import { callOut, check, mlx } from "./runtime.ts";
import type { CollectiveOp } from "./symbols.ts";

/** MLX's backend names; `any` tries NCCL (CUDA only), ring, MPI and JACCL in that order. */
export type DistributedBackend = "any" | "ring" | "mpi" | "nccl" | "jaccl";

const cstr = (s: string) => Buffer.from(`${s}\0`);

/** A group of ranks (`mlx_distributed_group`, a handle to MLX's `distributed::Group`). */
export class Group {
  /** This process's rank, `0..size-1`. */
  readonly rank: number;
  /** The number of ranks; 1 for the singleton group MLX returns when no backend started. */
  readonly size: number;

  /** Wraps a non-empty handle from `mlx_distributed_init`/`_group_split` (never freed, see the module note). */
  constructor(readonly handle: Pointer) {
    const { S } = mlx();
    this.rank = S.mlx_distributed_group_rank(handle);
    this.size = S.mlx_distributed_group_size(handle);
  }

  /**
   * `mlx_distributed_group_split`: the ranks that pass the same `color` form a new group, ordered by `key` (−1: by the
   * current rank). Collective: every rank of this group must call it.
   * @throws MlxError when the backend cannot split: the ring ("[ring] Group split not supported.") and the singleton
   *   group ("Cannot split the distributed group further.") never can.
   */
  split(color: number, key = -1): Group {
    const h = mlx().S.mlx_distributed_group_split(this.handle, color, key) as Pointer | null;
    check(h ? 0 : 1, "mlx_distributed_group_split");
    return new Group(h as Pointer);
  }
}

/** `mlx_distributed_is_available`: whether this MLX build has `backend` (`any`: at least one). Ring: always. */
export function isDistributedAvailable(backend: DistributedBackend = "any"): boolean {
  return mlx().S.mlx_distributed_is_available(cstr(backend)) as boolean;
}

export interface InitOptions {
  /** Default `any`. */
  backend?: DistributedBackend;
  /** Throw when the backend cannot start, instead of returning the singleton group (size 1). Default false. */
  strict?: boolean;
  /**
   * Ring only: the hostfile path and this rank, checked and set in the C environment with `setenv` before init
   * (`ring.ts`). Omit when the process was spawned with `MLX_HOSTFILE`/`MLX_RANK` in its environment.
   */
  ring?: { hostfile: string; rank: number };
}

const groups = new Map<DistributedBackend, Group>();
let abiChecked = false;

/**
 * `mlx_distributed_init(strict, backend)`: joins the group of all ranks. The first call per backend starts it; later
 * calls return the same group whatever their options (MLX caches the group per backend name, including the singleton
 * group of a non-strict failure, so a strict init after a failed non-strict one returns size 1).
 *
 * With the ring (`backend` `ring`, or `any` when `MLX_HOSTFILE` and `MLX_RANK` are both set) the hostfile and rank are
 * checked first (`ring.ts`), then init **blocks until both neighbours are connected**: accepting the left neighbour
 * has no timeout, and connecting to the right one retries 5 times over about 31 s before failing. Run each rank in its
 * own process and enforce a deadline from the launcher.
 * @throws Error for a bad hostfile or rank (before any native call); MlxError with MLX's message when the backend
 *   fails to start with `strict` (e.g. "[ring] You need to provide via environment variables both a rank (MLX_RANK)
 *   and a hostfile (MLX_HOSTFILE)…", "[ring] Couldn't connect…"); Error when the library has the post-v0.6.0
 *   distributed API.
 */
export function initDistributed(opts: InitOptions = {}): Group {
  const backend = opts.backend ?? "any";
  const cached = groups.get(backend);
  if (cached) return cached;
  checkAbi();
  if (opts.ring) {
    if (backend !== "ring") throw new Error(`initDistributed: ring options with backend ${backend}`);
    setRingEnvironment(opts.ring.hostfile, opts.ring.rank);
  } else if (backend === "ring" || backend === "any") {
    ringConfigFromEnvironment();
  }
  const h = mlx().S.mlx_distributed_init(opts.strict ?? false, cstr(backend)) as Pointer | null;
  check(h ? 0 : 1, "mlx_distributed_init");
  const group = new Group(h as Pointer);
  groups.set(backend, group);
  return group;
}

/** Refuses a libmlxc newer than v0.6.0, whose `mlx_distributed_init` takes an out-pointer first. */
function checkAbi(): void {
  if (abiChecked) return;
  const { path } = mlx().lib;
  let newer = false;
  try {
    dlopen(path, { mlx_distributed_group_free: { args: [FFIType.ptr], returns: FFIType.i32 } }).close();
    newer = true;
  } catch {
    // absent: the v0.6.0 API this module binds
  }
  if (newer) {
    throw new Error(
      `${path} has mlx_distributed_group_free, i.e. mlx-c's distributed API after v0.6.0 ` +
        "(init and split with out-parameters); this binding follows v0.6.0",
    );
  }
  abiChecked = true;
}

let cpuStream: Pointer | undefined;

/** Calls a collective `name(res, ...args, group, stream)` on the CPU stream and owns the result. */
function collective(name: string, args: unknown[], group: Group): MxArray {
  const { S } = mlx();
  if (!cpuStream) {
    const stream = S.mlx_default_cpu_stream_new() as Pointer | null;
    check(stream ? 0 : 1, "mlx_default_cpu_stream_new");
    cpuStream = stream as Pointer;
  }
  const f = (S as unknown as Record<string, (...a: unknown[]) => number>)[name];
  if (!f) throw new Error(`unknown MLX symbol ${name}`);
  return new MxArray(callOut(name, f, ...args, group.handle, cpuStream));
}

const reduce = (op: CollectiveOp, x: MxArray, group: Group) => collective(`mlx_${op}`, [x.handle], group);

/**
 * `mlx_distributed_all_sum`: the element-wise sum of `x` over all ranks, same shape and dtype as `x` (any dtype; the
 * sum is accumulated in that dtype). Every rank must pass the same shape and dtype. The singleton group returns `x`
 * unchanged (a new handle to the same array).
 * @throws MlxError at evaluation when a peer is gone (ring: "[ring] connection to a peer was lost", after MLX has
 *   printed its socket errors on stderr).
 */
export const allSum = (x: MxArray, group: Group) => reduce("distributed_all_sum", x, group);
/** `mlx_distributed_all_max`: element-wise maximum over all ranks; as {@link allSum}. */
export const allMax = (x: MxArray, group: Group) => reduce("distributed_all_max", x, group);
/** `mlx_distributed_all_min`: element-wise minimum over all ranks; as {@link allSum}. */
export const allMin = (x: MxArray, group: Group) => reduce("distributed_all_min", x, group);
/**
 * `mlx_distributed_all_gather`: the ranks' `x` concatenated along axis 0 in rank order, `[size·d0, d1, …]` (a scalar
 * gives `[size]`), dtype of `x`. Every rank must pass the same shape and dtype.
 */
export const allGather = (x: MxArray, group: Group) => reduce("distributed_all_gather", x, group);
/**
 * `mlx_distributed_sum_scatter`: the sum over ranks of `x` (`[size·n, …]`), of which this rank keeps rows
 * `rank·n..(rank+1)·n`. Not supported by the ring ("[ring] sum_scatter not supported.", at evaluation).
 * @throws MlxError when axis 0 is not divisible by the group size.
 */
export const sumScatter = (x: MxArray, group: Group) => reduce("distributed_sum_scatter", x, group);

/**
 * `mlx_distributed_send`: sends `x` to rank `dst`. The result (shape and dtype of `x`) must be evaluated for the send
 * to happen; evaluation returns once the data is sent. The ring only sends to direct neighbours
 * (`rank ± 1 mod size`; any rank when size is 2).
 * @throws MlxError for the singleton group ("Cannot send to a singleton group") or `dst` outside `0..size-1`.
 */
export function send(x: MxArray, dst: number, group: Group): MxArray {
  return collective("mlx_distributed_send", [x.handle, dst], group);
}

/**
 * `mlx_distributed_recv`: an array of `shape` and `dtype` received from rank `src` when evaluated (blocks until it
 * arrives). The sender's array must have the same number of bytes.
 * @throws MlxError for the singleton group ("Cannot recv from a singleton group") or `src` outside `0..size-1`; at
 *   evaluation when `src` has gone (ring: "[ring] connection to a peer was lost").
 */
export function recv(shape: readonly number[], dtype: Dtype, src: number, group: Group): MxArray {
  const dims = new Int32Array(shape.length ? shape : [0]);
  return collective("mlx_distributed_recv", [dims, shape.length, dtype, src], group);
}

/** `mlx_distributed_recv_like`: {@link recv} with the shape and dtype of `like` (whose data is not used). */
export function recvLike(like: MxArray, src: number, group: Group): MxArray {
  return collective("mlx_distributed_recv_like", [like.handle, src], group);
}
