/**
 * The local engine's model registry: which models exist (configured under `models:` and found under
 * `engine.models_dir`), which are loaded (one engine Worker each), and the rules for serving them. The registry is
 * the one object the local backend and the admin API hold; each concern lives in its own module:
 *
 * - **Listing** ({@link ModelListing}): known models, cached for a few seconds; resolution of ids and aliases.
 * - **Load / unload** ({@link ModelSlots}): the state machine of the Workers; idempotent loads, unloads that cancel
 *   the model's generations in flight.
 * - **Memory fit** ({@link MemoryBudget}): weights + KV reserve against `engine.memory.budget_bytes`; a load that does
 *   not fit is refused with 400 `model_too_large` before any Worker starts (configured models load at boot anyway).
 * - **Leases** ({@link Leases}): a request holds its model from routing to the end of its response.
 * - **Idle TTL** ({@link startIdleSweep}, `engine.idle_ttl_s` > 0): a loaded model with no request in flight for that
 *   long is unloaded.
 * - **On demand** (`engine.load_on_demand`): a request for a known, unloaded model loads it first; off, it gets 404
 *   `model_not_loaded`.
 * - **Token counts** ({@link LocalModels.prompts}) read a model's tokenizer and chat template in a token-count Worker
 *   and never load the model; they are dropped when the model is unloaded, and the Worker ends on {@link close}.
 * - **Changes**: {@link LocalModels.onChange} listeners are called at every state change (the catalog follows them).
 */
import type { EngineConfig } from "../../config/schema.ts";
import type { EngineClient } from "../../engine/client.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import { startIdleSweep } from "./idle-sweep.ts";
import { Leases, type ModelLease } from "./leases.ts";
import { ModelListing, type LocalModelConfig } from "./listing.ts";
import { MemoryBudget, type MemoryUse } from "./memory-budget.ts";
import { toModelView, type KnownModel, type ModelView } from "./model-view.ts";
import { PromptCounter } from "./prompt-counter.ts";
import { ModelSlots, shuttingDown, unloadable } from "./slots.ts";

export type { KnownModel, ModelState, ModelView } from "./model-view.ts";
// The Worker handle, as {@link LocalModels.engines} gives it: the admin API types it from here, not from the engine.
export type { EngineClient } from "../../engine/client.ts";

/** The local models and their Workers; shared by the local backend and the admin API. */
export class LocalModels {
  /** The `engine:` section. */
  readonly settings: EngineConfig;
  /** Prompt token counts from the models' tokenizers and chat templates, in the token-count Worker. */
  readonly prompts = new PromptCounter();
  readonly #listeners = new Set<() => void>();
  readonly #leases = new Leases();
  readonly #listing: ModelListing;
  readonly #budget: MemoryBudget;
  readonly #slots: ModelSlots;
  readonly #stopSweep: (() => void) | undefined;

  /**
   * Reads the configured models' facts and starts the idle sweep (when `engine.idle_ttl_s` > 0); loads nothing.
   * @param configured the `models:` entries (loaded by {@link loadConfigured})
   * @param settings the `engine:` section
   */
  constructor(configured: LocalModelConfig[], settings: EngineConfig) {
    this.settings = settings;
    this.#listing = new ModelListing(configured, settings.models_dir, () => this.#changed());
    this.#budget = new MemoryBudget(settings);
    this.#slots = new ModelSlots(settings, this.#budget, {
      changed: () => this.#changed(),
      loaded: (id, at) => this.#leases.touch(id, at),
      unloaded: (id) => this.prompts.delete(id),
    });
    this.#stopSweep = startIdleSweep(settings.idle_ttl_s, {
      slots: this.#slots.all,
      lastUsedAt: (id) => this.#leases.lastUsedAt(id),
      unload: (id) => this.unload(id),
    });
  }

  /**
   * Loads every configured model, in order (the memory budget is checked but only warned about).
   * @throws Error naming the model and directory when one cannot be loaded; those already loaded are unloaded.
   */
  async loadConfigured(): Promise<void> {
    try {
      for (const model of this.#listing.configured()) await this.#slots.start(model, false).loading;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Every known model: configured ones first, then the inventory (sorted by id) minus directories that a configured
   * model already names (same id, case-insensitively, or same directory). Cached for a few seconds.
   * @param fresh rescan `models_dir` now instead of using the cached listing
   */
  async known(fresh = false): Promise<KnownModel[]> {
    return this.#listing.known(fresh);
  }

  /**
   * Finds a known model by id (exact, then case-insensitive) or alias; rescans `models_dir` once when not found.
   * @throws OpenAIError 404 `model_not_found` (param `model`) listing the known ids.
   */
  async resolve(requested: string): Promise<KnownModel> {
    return this.#listing.resolve(requested);
  }

  /** Engine Workers running now (loading, loaded or unloading models). */
  get workers(): number {
    return this.#slots.all.size;
  }

  /** The budget and what the loaded and loading models reserve, in bytes. */
  memory(): MemoryUse {
    return this.#budget.use(this.#slots.all.values());
  }

  /**
   * Loads a known model (idempotent: a loaded model is returned as is; a loading one is awaited).
   * @returns whether this call started the load
   * @throws OpenAIError 503 `shutting_down` after {@link close}; 400 `model_too_large` when it does not fit in the
   *   memory budget (nothing is started), 400 `model_unloadable` when its directory cannot be read, 500
   *   `model_load_failed` when the Worker fails.
   */
  async load(model: KnownModel): Promise<{ started: boolean }> {
    return this.#slots.load(model);
  }

  /**
   * Unloads a model: cancels its generations in flight, waits for the Worker to confirm (up to 5 s), frees it.
   * @returns whether this call unloaded it (false: it was not loaded)
   */
  async unload(id: string): Promise<{ unloaded: boolean }> {
    return this.#slots.unload(id);
  }

  /**
   * Checks, without loading anything, that a request for `model` can be served: the refusals {@link acquire} gives
   * before it starts a load (the memory fit aside, which depends on what else is loaded).
   * @throws OpenAIError 503 `shutting_down`; when the model is not loaded, 404 `model_not_loaded`
   *   (`engine.load_on_demand` off) or 400 `model_unloadable` (its directory cannot be read).
   */
  checkServable(model: KnownModel): void {
    if (this.#slots.closed) throw shuttingDown();
    const current = this.#slots.all.get(model.id);
    if (current && current.state !== "unloading") return;
    if (!this.settings.load_on_demand) {
      throw new OpenAIError(
        404,
        `model '${model.id}' is not loaded (load it with POST /admin/models/load; engine.load_on_demand is off)`,
        { param: "model", code: "model_not_loaded" },
      );
    }
    if ("error" in model.facts) throw unloadable(model, model.facts.error);
  }

  /**
   * Holds a model for one request, loading it first when `engine.load_on_demand` allows.
   * @throws OpenAIError 503 `model_unloaded` (being unloaded), what {@link checkServable} and {@link load} throw.
   */
  async acquire(model: KnownModel): Promise<ModelLease> {
    this.checkServable(model);
    await this.load(model);
    return this.#leases.acquire(model.id, this.#slots.all.get(model.id));
  }

  /** A model as the admin API shows it. */
  view(model: KnownModel): ModelView {
    const slot = this.#slots.all.get(model.id);
    const facts = "error" in model.facts ? undefined : model.facts;
    return toModelView(model, {
      state: slot?.state ?? "unloaded",
      info: slot?.engine?.info,
      weightBytes: slot?.weightBytes ?? facts?.weightBytes,
      kvReserveBytes: slot?.kvReserveBytes ?? (facts ? this.#budget.kvReserve(facts) : undefined),
      inFlight: slot?.active ?? 0,
      prefixCache: this.settings.prefix_cache.enabled,
      loadedAt: slot?.loadedAt,
      lastUsedAt: this.#leases.lastUsedAt(model.id),
    });
  }

  /** The Workers of the loaded models, by model id (prefix cache admin). */
  engines(): Map<string, EngineClient> {
    return new Map(
      [...this.#slots.all].flatMap(([id, slot]) => (slot.state === "loaded" && slot.engine ? [[id, slot.engine]] : [])),
    );
  }

  /** Counters of the loaded models' Workers, by id. */
  counters(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, slot] of this.#slots.all) if (slot.engine) out[id] = { ...slot.engine.counters };
    return out;
  }

  /** Stops the idle sweep, unloads every model (cancelling what still runs) and ends the token-count Worker. */
  async close(): Promise<void> {
    this.#stopSweep?.();
    await this.#slots.close();
    this.prompts.close();
  }

  /**
   * Calls `listener` whenever what {@link known} and {@link view} report may have changed: a load started, finished
   * or failed, an unload started or finished, the inventory re-scanned.
   * @returns a function that stops the calls.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
