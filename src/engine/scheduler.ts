/**
 * Fair interleaving of the requests one model serves (issue 3 item 5): up to `maxActive` generations run at once,
 * each advancing one step (a prefill chunk or one decode step) per round, in arrival order; the rest wait in FIFO
 * order. Between rounds the scheduler yields to the Worker's event loop, so `cancel` and new `generate` messages are
 * seen within one round. A long generation therefore never starves a short one: both make progress every round.
 *
 * The queue bound (503 + `Retry-After`) is enforced on the main thread by `EngineClient`, which knows the in-flight
 * count without a round trip.
 */
import type { Generation, GenerationOutcome } from "./generation.ts";

export interface SchedulerHooks {
  /** Builds the generation of request `id` (not started yet). */
  create(id: number): Generation;
  /** Reports a request cancelled before it started. */
  cancelledWhileWaiting(id: number): void;
  /** Called once per request that ran, with how it ended. */
  finished(outcome: GenerationOutcome): void;
}

const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  readonly #maxActive: number;
  readonly #hooks: SchedulerHooks;
  readonly #waiting: number[] = [];
  readonly #active: Generation[] = [];
  #running = false;

  constructor(maxActive: number, hooks: SchedulerHooks) {
    this.#maxActive = Math.max(1, maxActive);
    this.#hooks = hooks;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  get active(): number {
    return this.#active.length;
  }

  /** Queues request `id` and makes sure the loop runs. */
  submit(id: number): void {
    this.#waiting.push(id);
    void this.#run();
  }

  /**
   * Cancels a request: a waiting one ends at once, a running one at its next turn. Unknown ids are ignored (the
   * request already ended).
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
    while (this.#running) await yieldToEvents();
  }

  #admit(): void {
    while (this.#active.length < this.#maxActive && this.#waiting.length) {
      const id = this.#waiting.shift()!;
      const generation = this.#hooks.create(id);
      if (generation.start()) this.#active.push(generation);
      else this.#hooks.finished(generation.outcome!);
    }
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#waiting.length || this.#active.length) {
        this.#admit();
        for (const generation of [...this.#active]) {
          if (generation.advance()) continue;
          this.#active.splice(this.#active.indexOf(generation), 1);
          this.#hooks.finished(generation.outcome!);
        }
        await yieldToEvents();
      }
    } finally {
      this.#running = false;
    }
  }
}
