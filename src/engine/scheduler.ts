/**
 * Continuous batching of the requests one model serves (issue 16 item 1): up to `maxActive` generations are in the
 * model's {@link BatchGenerator} at once, decoding together one token per forward pass, new ones prefilled a chunk at
 * a time alongside and joining at a step boundary; the rest wait in FIFO order. Between steps the scheduler yields to
 * the Worker's event loop, so `cancel` and new `generate` messages are seen within one step: a cancelled generation
 * leaves the batch at the next step boundary and the others go on.
 *
 * The queue bound (503 + `Retry-After`) is enforced on the main thread by `EngineClient`, which knows the in-flight
 * count without a round trip.
 */
import type { BatchGenerator } from "./batch-generator.ts";
import type { Generation, GenerationOutcome } from "./generation.ts";

/** The step boundary of a model spread over ranks (./ring-sync.ts, applied by the Worker). */
export interface StepSync {
  /** Collective: receives and applies rank 0's messages since the last step (new requests, cancels). */
  exchange(): void;
  /** Rank 0: messages wait for the next exchange. */
  readonly pending: boolean;
  /** Not rank 0: each turn waits in {@link exchange} for rank 0's next step. */
  readonly follower: boolean;
}

/**
 * With a {@link StepSync}, the loop never stops: idle, rank 0 still exchanges every this many ms (at once when a
 * message comes), so the other ranks' Workers, blocked in the exchange meanwhile, see their own events (stats).
 */
export const IDLE_SYNC_MS = 100;

export interface SchedulerHooks {
  /** Builds the generation of request `id` (not started yet). */
  create(id: number): Generation;
  /** Reports a request cancelled before it started. */
  cancelledWhileWaiting(id: number): void;
  /** Called once per request that ran, with how it ended. */
  finished(outcome: GenerationOutcome): void;
}

/**
 * When a request finds the batch empty, the loop waits this long before its first step, so requests sent together
 * (an agent's parallel calls, a benchmark's N streams) are prefilled together and decode in step from the first
 * token, instead of the first one's prefill holding the others back a chunk. Not on a ring (its exchange is the
 * boundary) nor with `max_active` 1.
 */
export const GROUPING_WINDOW_MS = 2;

const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  readonly #maxActive: number;
  readonly #hooks: SchedulerHooks;
  readonly #batch: BatchGenerator;
  readonly #waiting: number[] = [];
  readonly #active: Generation[] = [];
  readonly #sync: StepSync | undefined;
  #running = false;
  /** Ends the idle wait of a synced loop early (a message to exchange). */
  #wake: (() => void) | undefined;

  /**
   * @param maxActive generations in the batch at most (`engine.max_active`)
   * @param batch the model's batch generator, which the scheduler drives alone
   * @param sync with a model spread over ranks: the exchange run before every step, on every rank
   */
  constructor(maxActive: number, hooks: SchedulerHooks, batch: BatchGenerator, sync?: StepSync) {
    this.#maxActive = Math.max(1, maxActive);
    this.#hooks = hooks;
    this.#batch = batch;
    this.#sync = sync;
    if (sync) void this.#run();
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  get active(): number {
    return this.#active.length;
  }

  /** Decode steps the batch has run (forward passes, each advancing every decoding request by one token). */
  get decodeSteps(): number {
    return this.#batch.steps;
  }

  /** Queues request `id`; it starts when the loop runs ({@link kick}) and the batch has room. */
  enqueue(id: number): void {
    this.#waiting.push(id);
  }

  /** Makes sure the loop runs (on a ring, rank 0: to exchange what was posted, ending an idle wait). */
  kick(): void {
    this.#wake?.();
    void this.#run();
  }

  /**
   * Before a step: the event loop's turn. An empty batch waits {@link GROUPING_WINDOW_MS} instead (with room for more
   * than one request); a synced loop with nothing to do waits {@link IDLE_SYNC_MS}.
   */
  async #pause(): Promise<void> {
    if (!this.#sync) {
      if (this.#active.length > 0 || this.#maxActive === 1) return yieldToEvents();
      return new Promise<void>((resolve) => setTimeout(resolve, GROUPING_WINDOW_MS));
    }
    const idle = !this.#waiting.length && !this.#active.length && !this.#sync.pending;
    if (!idle) return yieldToEvents();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, IDLE_SYNC_MS);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /**
   * Cancels a request: a waiting one ends at once, a running one leaves the batch at the next step boundary. Unknown
   * ids are ignored (the request already ended).
   */
  cancel(id: number): void {
    const waitingAt = this.#waiting.indexOf(id);
    if (waitingAt >= 0) {
      this.#waiting.splice(waitingAt, 1);
      this.#hooks.cancelledWhileWaiting(id);
      return;
    }
    this.#active.find((g) => g.id === id)?.cancel();
  }

  /** Cancels everything (unload) and resolves when every request has ended. */
  async cancelAll(): Promise<void> {
    for (const id of [...this.#waiting]) this.cancel(id);
    for (const g of this.#active) g.cancel();
    // A synced loop runs as long as its ring (a rank's model is unloaded by ending the rank): its batch empties.
    while (this.#sync ? this.#active.length > 0 : this.#running) await yieldToEvents();
  }

  #admit(): void {
    while (this.#active.length < this.#maxActive && this.#waiting.length) {
      const id = this.#waiting.shift()!;
      const generation = this.#hooks.create(id);
      if (!generation.start()) {
        this.#hooks.finished(generation.outcome!);
        continue;
      }
      const { prompt, caches } = generation.enter();
      this.#batch.insert(id, generation, prompt, caches);
      this.#active.push(generation);
    }
  }

  /** One step of the batch; an MLX failure ends every generation in it with an error (their arrays freed). */
  #step(): void {
    for (const g of this.#active) if (g.cancelled) this.#batch.remove(g.id);
    if (this.#batch.size === 0) return;
    try {
      this.#batch.next();
    } catch (err) {
      const message = (err as Error).message;
      for (const seq of this.#batch.clear()) (seq as Generation).abort(message);
    }
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#sync || this.#waiting.length || this.#active.length) {
        // Before every step, including the first: requests that arrived meanwhile join, cancels are seen.
        await this.#pause();
        this.#sync?.exchange();
        this.#admit();
        this.#step();
        for (const g of this.#active.filter((x) => x.ended)) {
          this.#active.splice(this.#active.indexOf(g), 1);
          this.#hooks.finished(g.outcome!);
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
