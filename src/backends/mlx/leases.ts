/**
 * Leases: a request's hold on a loaded model, from routing to the end of its response. A held model is never idle
 * (the idle sweep skips it); its lease's signal aborts when the model is being unloaded. Also when each model was
 * last used (leased, released or loaded), for the admin view and the idle sweep.
 */
import type { EngineClient } from "../../engine/client.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { Slot } from "./slots.ts";

/** A request's hold on a loaded model; {@link release} when its response has ended. */
export interface ModelLease {
  engine: EngineClient;
  /** Aborted when the model is being unloaded. */
  signal: AbortSignal;
  /** Ends the hold; idempotent. */
  release(): void;
}

/** Hands out leases on loaded slots and remembers when each model was last used. */
export class Leases {
  /** Unix milliseconds of each model's last use, by model id (kept after an unload). */
  readonly #lastUsed = new Map<string, number>();

  /**
   * Holds the loaded model `id` for one request: counts it in the slot's `active` until released.
   * @param slot the model's slot, if it has one
   * @throws OpenAIError 503 `model_unloaded` (param `model`, `Retry-After: 1`) when the model has no loaded Worker
   *   (it is being, or was, unloaded).
   */
  acquire(id: string, slot: Slot | undefined): ModelLease {
    if (slot?.state !== "loaded" || !slot.engine) {
      throw new OpenAIError(503, `model '${id}' was unloaded before the request could start; retry`, {
        param: "model",
        code: "model_unloaded",
        headers: { "retry-after": "1" },
      });
    }
    slot.active++;
    this.#lastUsed.set(id, Date.now());
    let released = false;
    return {
      engine: slot.engine,
      signal: slot.stop.signal,
      release: () => {
        if (released) return;
        released = true;
        slot.active--;
        this.#lastUsed.set(id, Date.now());
      },
    };
  }

  /** Records a use of model `id` at `at` (Unix milliseconds), e.g. when its load finished. */
  touch(id: string, at: number): void {
    this.#lastUsed.set(id, at);
  }

  /** When model `id` was last used, in Unix milliseconds; undefined when never. */
  lastUsedAt(id: string): number | undefined {
    return this.#lastUsed.get(id);
  }
}
