/**
 * The load/unload state machine of the local models: a slot is a model that has an engine Worker, from the start of
 * its load to the end of its unload, with its memory reservation and the requests holding it.
 *
 *   (no slot) ──load──▶ loading ──Worker ready──▶ loaded ──unload──▶ unloading ──Worker freed──▶ (no slot)
 *                          └──────────Worker failed──────────▶ (no slot)
 *
 * - **Load** is idempotent: loading a loaded model answers its state; concurrent loads of one model share one Worker;
 *   a load during an unload waits for it, then starts a fresh Worker. The memory fit is checked before any Worker
 *   starts ({@link MemoryBudget.reserve}).
 * - **Unload** cancels the model's generations in flight (each ends within one decode step: a stream gets an in-band
 *   503 `model_unloaded` error and no `[DONE]`, a non-stream request a 503), waits for the Worker to confirm (up to
 *   {@link UNLOAD_DRAIN_MS}), then frees the Worker. Unloading an unloaded model is a no-op.
 * - Every transition is reported ({@link SlotEvents.changed}).
 */
import type { EngineConfig } from "../../config/schema.ts";
import { EngineClient } from "../../engine/client.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import { workerLimits } from "./engine-settings.ts";
import type { ModelFacts } from "./inventory.ts";
import type { MemoryBudget, Reservation } from "./memory-budget.ts";
import type { KnownModel, ModelState } from "./model-view.ts";

/** Longest wait for a Worker to confirm its cancelled generations before it is stopped anyway, in milliseconds. */
export const UNLOAD_DRAIN_MS = 5000;

/** A model with a Worker; its {@link Reservation} (bytes) is held against the memory budget until it is unloaded. */
export interface Slot extends Reservation {
  model: KnownModel;
  state: Exclude<ModelState, "unloaded">;
  /** The Worker handle, once loaded. */
  engine?: EngineClient;
  /** Settles when the load does: with this slot, or with the load's error. */
  loading: Promise<Slot>;
  /** Settles when the unload has freed the Worker (set when the unload starts). */
  unloading?: Promise<void>;
  /** Aborted on unload: cancels the model's generations. */
  stop: AbortController;
  /** Requests holding the model (from routing to the end of their response). */
  active: number;
  /** When the load finished, in Unix milliseconds. */
  loadedAt?: number;
}

/** What the slots report to the registry. */
export interface SlotEvents {
  /** The state of a model may have changed: a load started, finished or failed, an unload started or finished. */
  changed(): void;
  /** Model `id`'s Worker is loaded, at `at` (Unix milliseconds). */
  loaded(id: string, at: number): void;
  /** Model `id`'s Worker was freed. */
  unloaded(id: string): void;
}

export const shuttingDown = () => new OpenAIError(503, "the local engine is shutting down", { code: "shutting_down" });

export const unloadable = (model: KnownModel, reason: string) =>
  new OpenAIError(400, `model '${model.id}' cannot be loaded from ${model.path}: ${reason}`, {
    param: "model",
    code: "model_unloadable",
  });

const hasFacts = (facts: KnownModel["facts"]): facts is ModelFacts => !("error" in facts);

/** The slots by model id, and the transitions between their states. */
export class ModelSlots {
  readonly #settings: EngineConfig;
  readonly #budget: MemoryBudget;
  readonly #events: SlotEvents;
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  /**
   * @param settings the `engine:` section (what each Worker is started with)
   * @param budget the memory budget loads are checked against
   */
  constructor(settings: EngineConfig, budget: MemoryBudget, events: SlotEvents) {
    this.#settings = settings;
    this.#budget = budget;
    this.#events = events;
  }

  /** The slots (loading, loaded and unloading models), by model id. */
  get all(): ReadonlyMap<string, Slot> {
    return this.#slots;
  }

  /** Whether {@link close} was called: no load starts any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Loads a known model (idempotent: a loaded model is returned as is; a loading one is awaited).
   * @returns whether this call started the load
   * @throws OpenAIError 503 `shutting_down` after {@link close}; 400 `model_too_large` when it does not fit in the
   *   memory budget (nothing is started), 400 `model_unloadable` when its directory cannot be read, 500
   *   `model_load_failed` when the Worker fails.
   */
  async load(model: KnownModel): Promise<{ started: boolean }> {
    if (this.#closed) throw shuttingDown();
    let slot = this.#slots.get(model.id);
    if (slot?.state === "unloading") {
      await slot.unloading;
      slot = this.#slots.get(model.id);
    }
    if (slot) {
      await slot.loading;
      return { started: false };
    }
    await this.start(model, true).loading;
    return { started: true };
  }

  /**
   * Unloads a model: cancels its generations in flight, waits for the Worker to confirm (up to 5 s), frees it.
   * @returns whether this call unloaded it (false: it was not loaded)
   */
  async unload(id: string): Promise<{ unloaded: boolean }> {
    const slot = this.#slots.get(id);
    if (!slot) return { unloaded: false };
    if (slot.state === "loading") {
      const loaded = await slot.loading.then(
        () => true,
        () => false,
      );
      if (!loaded) return { unloaded: false };
    }
    if (slot.state === "unloading") {
      await slot.unloading;
      return { unloaded: false };
    }
    slot.state = "unloading";
    this.#events.changed();
    slot.stop.abort();
    slot.unloading = (async () => {
      try {
        const engine = slot.engine!;
        const deadline = Date.now() + UNLOAD_DRAIN_MS;
        while (engine.inFlight > 0 && Date.now() < deadline) await Bun.sleep(10);
        await engine.close();
      } finally {
        this.#slots.delete(id);
        this.#events.unloaded(id);
        this.#events.changed();
      }
    })();
    await slot.unloading;
    return { unloaded: true };
  }

  /** Marks the slots closed (no load starts any more) and unloads every model; an unload failure is logged. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#slots.keys()].map((id) =>
        this.unload(id).catch((error) => console.warn(`[ithaca] unloading '${id}' failed:`, error)),
      ),
    );
  }

  /**
   * Reserves memory and starts the model's Worker; the slot is `loading` until its `loading` promise settles.
   * @param enforceFit refuse (400) when over budget or unreadable, and turn a Worker failure into 500
   *   `model_load_failed`; false: warn only (configured models at boot), and a failed load rejects with the Worker's
   *   own error (naming the model and directory)
   * @throws OpenAIError 400 `model_unloadable` or `model_too_large` (only with `enforceFit`; nothing is started)
   */
  start(model: KnownModel, enforceFit: boolean): Slot {
    const facts = hasFacts(model.facts) ? model.facts : undefined;
    if (!facts && enforceFit) throw unloadable(model, "error" in model.facts ? model.facts.error : "unknown");
    const reservation = this.#budget.reserve(model, facts, this.#slots, enforceFit);
    const slot: Slot = {
      model,
      state: "loading",
      ...reservation,
      stop: new AbortController(),
      active: 0,
      loading: undefined as unknown as Promise<Slot>,
    };
    slot.loading = EngineClient.start({ id: model.id, path: model.path }, workerLimits(this.#settings)).then(
      (engine) => {
        slot.engine = engine;
        slot.state = "loaded";
        slot.loadedAt = Date.now();
        this.#events.loaded(model.id, slot.loadedAt);
        this.#events.changed();
        return slot;
      },
      (error: unknown) => {
        this.#slots.delete(model.id);
        this.#events.changed();
        if (!enforceFit) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new OpenAIError(500, reason, { param: "model", code: "model_load_failed" });
      },
    );
    // A failed load is reported to whoever awaits it; keep an unobserved rejection from being fatal.
    slot.loading.catch(() => {});
    this.#slots.set(model.id, slot);
    this.#events.changed();
    return slot;
  }
}
