/**
 * How one process computes its share of a model spread over the ranks of an MLX distributed group (issue 17), as
 * mlx-lm does it. Every rank runs the same generation loop on the same tokens (SPMD); the collectives inside the
 * forward pass keep the ranks in step and give every rank the same logits, so each samples the same token.
 *
 * - **pipeline** (mlx-lm's pipelined models, e.g. `models/deepseek_v2.py` `pipeline`): the stages run in reverse
 *   rank order — rank N−1 holds the first layers, rank 0 the last — each receiving the hidden state `[B, L, D]` from
 *   rank r+1 (`recv_like`) and sending its own to rank r−1 (`send`, ring neighbours); then `all_gather` hands rank
 *   0's final hidden state to every rank, which computes the logits.
 * - **tensor** (mlx-lm `shard_linear`): every rank runs every layer on its heads and MLP columns; the attention and
 *   MLP outputs are summed across ranks with `all_sum` (./shard.ts cuts the weights).
 *
 * A pipeline stage evaluates at its boundaries (the tokens before receiving, the hidden state when sending), so the
 * ranks run their collectives in one order; it gives up overlapping a step with the next one's scheduling.
 *
 * Every method takes ownership of the array it is given (freed, or returned) and returns a new one.
 */
import { distributed, type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { RankShare } from "./shard.ts";
import { stageLayers } from "./stages.ts";

/**
 * The layers `[start, end)` of rank `rank` of a pipeline over `size` ranks with equal budgets (./stages.ts).
 * @throws RangeError when there are fewer layers than ranks.
 */
export function pipelineLayers(numLayers: number, rank: number, size: number): [number, number] {
  return stageLayers(
    numLayers,
    Array.from({ length: size }, () => 1),
  )[rank] as [number, number];
}

/** This process's part in a model spread over `group` (see the module comment). */
export class Parallel {
  constructor(
    readonly group: distributed.Group,
    readonly share: RankShare,
  ) {
    if (share.rank !== group.rank || share.size !== group.size) {
      throw new Error(`share of rank ${share.rank}/${share.size} in a group where this is ${group.rank}/${group.size}`);
    }
  }

  /** The layers this rank computes: its pipeline slice, or undefined (all of them). */
  get layers(): [number, number] | undefined {
    return this.share.mode === "pipeline" ? this.share.layers : undefined;
  }

  /** Before this rank's layers: the previous stage's hidden state `[B, L, D]` (pipeline, all but the first stage). */
  enter(h: MxArray): MxArray {
    const { rank, size } = this.share;
    if (this.share.mode !== "pipeline" || rank === size - 1) return h;
    try {
      // `recv_like` does not depend on `h` in the graph: evaluating `h` first (the new tokens, sampled from the last
      // step's gathered logits) runs the last step's collectives before this one's, in the order every rank runs them.
      ops.evaluate(h);
      return distributed.recvLike(h, rank + 1, this.group);
    } finally {
      h.free();
    }
  }

  /** After this rank's layers: the last stage's hidden state `[B, L, D]`, on every rank (pipeline). */
  leave(h: MxArray): MxArray {
    if (this.share.mode !== "pipeline") return h;
    const [batch, length, hidden] = h.shape as [number, number, number];
    let out = h;
    if (this.share.rank > 0) {
      out = distributed.send(h, this.share.rank - 1, this.group);
      h.free();
      // Sent now: a step that only evaluates its caches (a prefill chunk) never asks for the send's result, while the
      // next stage waits for it.
      ops.evaluate(out);
    }
    using gathered = distributed.allGather(out, this.group);
    out.free();
    return ops.slice(gathered, [0, 0, 0], [batch, length, hidden]);
  }

  /** A sharded projection's partial output, summed over the ranks (tensor); as it is otherwise. */
  sum(x: MxArray): MxArray {
    if (this.share.mode !== "tensor") return x;
    try {
      return distributed.allSum(x, this.group);
    } finally {
      x.free();
    }
  }
}
