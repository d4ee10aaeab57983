/**
 * The engine's messages, in step across the ranks of a model spread over an MLX distributed group (issue 17). Every
 * rank runs the same scheduler on the same requests (SPMD: ./model/parallel.ts): only rank 0 hears from clients, and
 * before each step it hands what it heard since the last one — new requests, cancellations, cleared sessions — to
 * every rank with two `all_sum`s (the length, then the UTF-8 JSON as int32 values; the other ranks add zeros). Every
 * rank applies the same messages at the same step, so their batches, KV caches and prefix caches stay the same.
 *
 * A rank other than 0 blocks in {@link RingSync.exchange} until rank 0 exchanges again.
 */
import { distributed, ops } from "bun-ffi-mlx-bindings";
import type { ToEngine } from "./worker-messages.ts";

/** The messages that change what the ranks compute, and so travel between them. */
export type SyncedMessage = Extract<ToEngine, { type: "generate" | "cancel" | "clear_sessions" }>;

const UTF8 = new TextEncoder();
const TEXT = new TextDecoder();

/** This rank's side of the exchange (see the module comment). */
export class RingSync {
  /** Whether this is rank 0, the one that hears from clients. */
  readonly leader: boolean;
  #outbox: SyncedMessage[] = [];

  constructor(readonly group: distributed.Group) {
    this.leader = group.rank === 0;
  }

  /** Rank 0: queues a message for the next exchange. A request without a seed gets one, drawn once for all ranks. */
  post(message: SyncedMessage): void {
    if (message.type === "generate" && message.params.seed === undefined) {
      message = { ...message, params: { ...message.params, seed: Math.floor(Math.random() * 2 ** 32) } };
    }
    this.#outbox.push(message);
  }

  /** Rank 0: whether messages wait for the next exchange. */
  get pending(): boolean {
    return this.#outbox.length > 0;
  }

  /**
   * Collective (every rank, once per step): rank 0's messages since the last exchange, in order, on every rank.
   * @throws MlxError when a peer is gone.
   */
  exchange(): SyncedMessage[] {
    const bytes = this.leader && this.#outbox.length > 0 ? UTF8.encode(JSON.stringify(this.#outbox)) : new Uint8Array();
    this.#outbox = [];
    using length = ops.fromArray(Int32Array.of(bytes.length), [1]);
    using total = distributed.allSum(length, this.group);
    const n = total.eval().toInt32()[0] as number;
    if (n === 0) return [];
    using payload = ops.fromArray(this.leader ? Int32Array.from(bytes) : new Int32Array(n), [n]);
    using summed = distributed.allSum(payload, this.group);
    const received = Uint8Array.from(summed.eval().toInt32());
    return JSON.parse(TEXT.decode(received)) as SyncedMessage[];
  }
}
