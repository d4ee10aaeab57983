/**
 * The local engine's memory budget (`engine.memory.budget_bytes`): every loaded or loading model holds a reservation
 * of its weight bytes (from the safetensors headers) plus its KV reserve (`engine.memory.kv_reserve_bytes`, or the
 * per-model estimate {@link defaultKvReserve}). A load whose reservation does not fit in what is left of the budget
 * is refused with 400 `model_too_large` before any Worker starts; models configured under `models:` are loaded at
 * boot regardless (an over-budget boot logs a warning) and count against the budget.
 */
import type { EngineConfig } from "../../config/schema.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import { defaultKvReserve, type ModelFacts } from "./inventory.ts";
import { formatBytes, type KnownModel } from "./model-view.ts";

/** What one loaded or loading model holds against the budget, in bytes. */
export interface Reservation {
  /** Bytes of the model's weight tensors. */
  weightBytes: number;
  /** Bytes set aside for its KV caches and activations. */
  kvReserveBytes: number;
}

/** The budget and what the reservations take of it, in bytes (as `GET /admin/models` shows it under `memory`). */
export interface MemoryUse {
  budget_bytes: number;
  reserved_bytes: number;
  /** `budget_bytes - reserved_bytes`, never below 0. */
  free_bytes: number;
}

/** Plans reservations against `engine.memory.budget_bytes`; the reservations themselves are held by the registry. */
export class MemoryBudget {
  readonly #settings: Pick<EngineConfig, "memory" | "max_active">;

  /** @param settings the `engine:` section (`memory.budget_bytes`, `memory.kv_reserve_bytes`, `max_active`) */
  constructor(settings: Pick<EngineConfig, "memory" | "max_active">) {
    this.#settings = settings;
  }

  /**
   * The KV reserve of a model: `engine.memory.kv_reserve_bytes` when set, else {@link defaultKvReserve} for
   * `engine.max_active` concurrent generations.
   * @returns bytes
   */
  kvReserve(facts: ModelFacts): number {
    return this.#settings.memory.kv_reserve_bytes ?? defaultKvReserve(facts, this.#settings.max_active);
  }

  /** The budget and what `reservations` take of it, in bytes. */
  use(reservations: Iterable<Reservation>): MemoryUse {
    let reserved = 0;
    for (const r of reservations) reserved += r.weightBytes + r.kvReserveBytes;
    const budget = this.#settings.memory.budget_bytes;
    return { budget_bytes: budget, reserved_bytes: reserved, free_bytes: Math.max(0, budget - reserved) };
  }

  /**
   * The reservation a load of `model` needs (weights + KV reserve; 0 for a directory whose facts cannot be read),
   * checked against what the `held` reservations leave free.
   * @param held the reservations of the models with a Worker, by model id (named in the message)
   * @param enforceFit refuse when over budget; false: log a warning and reserve anyway (configured models at boot)
   * @returns the reservation, for the caller to hold
   * @throws OpenAIError 400 `model_too_large` (param `model`) naming what the model needs, what is free, the budget
   *   and the models holding it, when it does not fit and `enforceFit` is set.
   */
  reserve(
    model: KnownModel,
    facts: ModelFacts | undefined,
    held: ReadonlyMap<string, Reservation>,
    enforceFit: boolean,
  ): Reservation {
    const weightBytes = facts?.weightBytes ?? 0;
    const kvReserveBytes = facts ? this.kvReserve(facts) : 0;
    const need = weightBytes + kvReserveBytes;
    const { budget_bytes: budget, free_bytes: free } = this.use(held.values());
    if (need > free) {
      const loaded = [...held.keys()].join(", ") || "none";
      const message =
        `model '${model.id}' needs ${formatBytes(need)} (weights ${formatBytes(weightBytes)} + KV reserve ` +
        `${formatBytes(kvReserveBytes)}) but only ${formatBytes(free)} of the ${formatBytes(budget)} budget is free ` +
        `(loaded: ${loaded}); unload a model or raise engine.memory.budget_bytes`;
      if (enforceFit) throw new OpenAIError(400, message, { param: "model", code: "model_too_large" });
      console.warn(`[ithaca] ${message}; loading it anyway because it is configured under models:`);
    }
    return { weightBytes, kvReserveBytes };
  }
}
