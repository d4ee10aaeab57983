/**
 * One rank of distributed.test.ts, run as its own Bun process:
 *
 *   bun test/ffi/distributed-rank.ts collectives            # MLX_HOSTFILE and MLX_RANK given at spawn
 *   bun test/ffi/distributed-rank.ts collectives FILE RANK  # set here with setenv (InitOptions.ring)
 *   bun test/ffi/distributed-rank.ts peer-exits             # rank 1 exits after init; rank 0 then receives from it
 *
 * Inputs are {@link rankInputs} of its rank, so the test can compute every expected result. Prints one JSON line of
 * {@link RankReport} on stdout and exits 0; on any error prints the message on stderr and exits 1.
 */
import { Dtype, distributed, liveArrays, type MxArray, ops } from "bun-ffi-mlx-bindings";

/** The arrays rank `rank` contributes: float32 `[3,5]`, a float32 `[40000]` (several ring segments), int32 `[7]`. */
export function rankInputs(rank: number) {
  return {
    f32: Float32Array.from({ length: 15 }, (_, i) => (i + 1) * 0.25 + rank * 100.5 - 7),
    big: Float32Array.from({ length: 40_000 }, (_, i) => ((i * 7 + rank * 13) % 1000) / 8),
    i32: Int32Array.from({ length: 7 }, (_, i) => (i - 3) * (rank + 1) * 1000 + rank),
    /** Sent by rank 0 to rank 1: float32 `[2,4]`. */
    message: Float32Array.from({ length: 8 }, (_, i) => i * 1.5 - 2),
    /** Sent back by rank 1 to rank 0: int32 `[3]`. */
    reply: Int32Array.from([rank + 41, -rank - 7, 2 ** 30 + rank]),
  };
}

export interface RankReport {
  rank: number;
  size: number;
  sumF32: number[];
  maxF32: number[];
  minF32: number[];
  gatherF32: { shape: number[]; data: number[] };
  sumBig: number[];
  sumScalar: number;
  sumI32: number[];
  maxI32: number[];
  minI32: number[];
  gatherI32: { shape: number[]; data: number[] };
  /** Rank 1: what it received from rank 0 (float32 [2,4]); rank 0: what came back (int32 [3]). */
  received: { shape: number[]; dtype: number; data: number[] };
  /** MxArray handles alive at the end (0: none leaked). */
  live: number;
}

function collectives(group: distributed.Group): Omit<RankReport, "live"> {
  const input = rankInputs(group.rank);
  using f = ops.fromArray(input.f32, [3, 5]);
  using big = ops.fromArray(input.big, [input.big.length]);
  using i = ops.fromArray(input.i32, [7]);
  using s = ops.scalar(group.rank + 0.5);
  const out = (a: MxArray) => {
    using r = a;
    return { shape: r.shape, data: Array.from(r.dtype === Dtype.int32 ? r.toInt32() : r.toFloat32()) };
  };
  const report = {
    rank: group.rank,
    size: group.size,
    sumF32: out(distributed.allSum(f, group)).data,
    maxF32: out(distributed.allMax(f, group)).data,
    minF32: out(distributed.allMin(f, group)).data,
    gatherF32: out(distributed.allGather(f, group)),
    sumBig: out(distributed.allSum(big, group)).data,
    sumScalar: out(distributed.allSum(s, group)).data[0]!,
    sumI32: out(distributed.allSum(i, group)).data,
    maxI32: out(distributed.allMax(i, group)).data,
    minI32: out(distributed.allMin(i, group)).data,
    gatherI32: out(distributed.allGather(i, group)),
  };
  let received: RankReport["received"];
  if (group.rank === 0) {
    using m = ops.fromArray(input.message, [2, 4]);
    distributed.send(m, 1, group).eval().free();
    using like = ops.zeros([3], Dtype.int32);
    using back = distributed.recvLike(like, 1, group);
    received = { shape: back.shape, dtype: back.dtype, data: Array.from(back.toInt32()) };
  } else {
    using got = distributed.recv([2, 4], Dtype.float32, 0, group);
    received = { shape: got.shape, dtype: got.dtype, data: Array.from(got.toFloat32()) };
    using r = ops.fromArray(input.reply, [3]);
    distributed.send(r, 0, group).eval().free();
  }
  return { ...report, received };
}

function main(): void {
  const [scenario, hostfile, rank] = process.argv.slice(2);
  const ring = hostfile !== undefined ? { hostfile, rank: Number(rank) } : undefined;
  const group = distributed.initDistributed({ backend: "ring", strict: true, ring });
  if (scenario === "collectives") {
    const report = collectives(group);
    console.log(JSON.stringify({ ...report, live: liveArrays() }));
  } else if (scenario === "peer-exits") {
    if (group.rank === 1) process.exit(0);
    using got = distributed.recv([4], Dtype.float32, 1, group);
    got.eval();
    console.log(JSON.stringify({ rank: group.rank, unexpected: "received from an exited peer" }));
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
}

if (import.meta.main) {
  try {
    main();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
