/**
 * The local engine's model registry: which models exist (configured under `models:` and found under
 * `engine.models_dir`), which are loaded (one engine Worker each), and the rules for loading and unloading them.
 *
 * - **Memory fit.** Every loaded or loading model holds a reservation of its weight bytes (safetensors headers) plus
 *   its KV reserve (`engine.memory.kv_reserve_bytes`, default {@link defaultKvReserve}). A load whose reservation does
 *   not fit in what is left of `engine.memory.budget_bytes` is refused with 400 `model_too_large` before any Worker
 *   starts. Models configured under `models:` are loaded at boot regardless (an over-budget boot logs a warning) and
 *   count against the budget.
 * - **Load** is idempotent: loading a loaded model answers its state; concurrent loads of one model share one Worker.
 * - **Unload** cancels the model's generations in flight (each ends within one decode step: a stream gets an in-band
 *   503 `model_unloaded` error and no `[DONE]`, a non-stream request a 503), waits for the Worker to confirm, then
 *   frees the Worker. Unloading an unloaded model is a no-op.
 * - **Idle TTL** (`engine.idle_ttl_s` > 0): a loaded model with no request in flight for that long is unloaded.
 * - **On demand** (`engine.load_on_demand`): a request for a known, unloaded model loads it first; off, it gets 404
 *   `model_not_loaded`.
 * - **Token counts** ({@link LocalModels.prompts}) read a model's tokenizer and chat template in a token-count Worker
 *   and never load the model; they are dropped when the model is unloaded, and the Worker ends on {@link close}.
 */
import { EngineClient } from "../engine/client.ts";
import type { EngineConfig } from "../config/schema.ts";
import { TtlCache } from "./ttl-cache.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { realpathSync } from "node:fs";
import { defaultKvReserve, FactsCache, scanModelsDir, type ModelFacts } from "./mlx-inventory.ts";
import { formatBytes, toModelView, type KnownModel, type ModelState, type ModelView } from "./mlx-model-view.ts";
import { PromptCounter } from "./mlx-prompts.ts";

export type { KnownModel, ModelState, ModelView } from "./mlx-model-view.ts";

/** A model listed under `models:` in the configuration. */
export interface LocalModelConfig {
  id: string;
  path: string;
  aliases?: string[];
}

/** A model with a Worker (loading, loaded or unloading). */
interface Slot {
  model: KnownModel;
  state: Exclude<ModelState, "unloaded">;
  /** Bytes reserved against the budget. */
  weightBytes: number;
  kvReserveBytes: number;
  engine?: EngineClient;
  loading: Promise<Slot>;
  unloading?: Promise<void>;
  /** Aborted on unload: cancels the model's generations. */
  stop: AbortController;
  /** Requests holding the model (from routing to the end of their response). */
  active: number;
  loadedAt?: number;
}

/** A request's hold on a loaded model; {@link release} when its response has ended. */
export interface ModelLease {
  engine: EngineClient;
  /** Aborted when the model is being unloaded. */
  signal: AbortSignal;
  release(): void;
}

/** How long a listing of the known models (and `models_dir`) is reused, in milliseconds. */
const INVENTORY_TTL_MS = 5000;
/** Longest wait for a Worker to confirm its cancelled generations before it is stopped anyway, in milliseconds. */
const UNLOAD_DRAIN_MS = 5000;

function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

const hasFacts = (facts: KnownModel["facts"]): facts is ModelFacts => !("error" in facts);

const unloadable = (model: KnownModel, reason: string) =>
  new OpenAIError(400, `model '${model.id}' cannot be loaded from ${model.path}: ${reason}`, {
    param: "model",
    code: "model_unloadable",
  });

export class LocalModels {
  readonly settings: EngineConfig;
  /** Prompt token counts from the models' tokenizers and chat templates, in the token-count Worker. */
  readonly prompts = new PromptCounter();
  readonly #configured: LocalModelConfig[];
  readonly #facts = new FactsCache();
  readonly #known: TtlCache<KnownModel[]>;
  readonly #slots = new Map<string, Slot>();
  readonly #lastUsed = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #listeners = new Set<() => void>();

  /**
   * @param configured the `models:` entries (loaded by {@link loadConfigured})
   * @param settings the `engine:` section
   */
  constructor(configured: LocalModelConfig[], settings: EngineConfig) {
    this.#configured = configured;
    this.settings = settings;
    this.#known = new TtlCache({
      load: () => this.#scan(),
      fallback: configured.map((config) => this.#configuredModel(config)),
      ttlMs: INVENTORY_TTL_MS,
      retryMs: INVENTORY_TTL_MS,
      onError: (error) => console.warn(`[ithaca] listing local models failed:`, error),
      onLoad: () => this.#changed(),
    });
    if (settings.idle_ttl_s > 0) {
      const every = Math.min(1000, Math.max(100, (settings.idle_ttl_s * 1000) / 2));
      this.#timer = setInterval(() => this.#sweepIdle(), every);
      this.#timer.unref?.();
    }
  }

  /**
   * Loads every configured model, in order (the memory budget is checked but only warned about).
   * @throws Error naming the model and directory when one cannot be loaded; those already loaded are unloaded.
   */
  async loadConfigured(): Promise<void> {
    try {
      for (const config of this.#configured) {
        const model = this.#configuredModel(config);
        await this.#start(model, false).loading;
      }
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
    if (fresh) this.#known.invalidate();
    return this.#known.get();
  }

  async #scan(): Promise<KnownModel[]> {
    const dir = this.settings.models_dir;
    const inventory = dir === undefined ? [] : await scanModelsDir(dir, this.#facts);
    const configured = this.#configured.map((config) => this.#configuredModel(config));
    const ids = new Set(configured.map((model) => model.id.toLowerCase()));
    const paths = new Set(configured.map((model) => realPathOf(model.path)));
    const listed = inventory
      .filter((entry) => !ids.has(entry.id.toLowerCase()) && !paths.has(entry.realPath))
      .map((entry): KnownModel => ({ id: entry.id, path: entry.path, aliases: [], source: "inventory", facts: entry.facts }));
    return [...configured, ...listed];
  }

  /**
   * Finds a known model by id (exact, then case-insensitive) or alias; rescans `models_dir` once when not found.
   * @throws OpenAIError 404 `model_not_found` (param `model`) listing the known ids.
   */
  async resolve(requested: string): Promise<KnownModel> {
    const find = (models: KnownModel[]) => {
      const key = requested.toLowerCase();
      return (
        models.find((model) => model.id === requested) ??
        models.find((model) => model.id.toLowerCase() === key) ??
        models.find((model) => model.aliases.some((alias) => alias.toLowerCase() === key))
      );
    };
    const found = find(await this.known()) ?? find(await this.known(true));
    if (found) return found;
    const ids = (await this.known()).map((model) => model.id).join(", ") || "(none)";
    throw new OpenAIError(404, `model '${requested}' is not a local model. Known: ${ids}`, {
      param: "model",
      code: "model_not_found",
    });
  }

  /** Engine Workers running now (loading, loaded or unloading models). */
  get workers(): number {
    return this.#slots.size;
  }

  /** The budget and what the loaded and loading models reserve, in bytes. */
  memory(): { budget_bytes: number; reserved_bytes: number; free_bytes: number } {
    let reserved = 0;
    for (const slot of this.#slots.values()) reserved += slot.weightBytes + slot.kvReserveBytes;
    const budget = this.settings.memory.budget_bytes;
    return { budget_bytes: budget, reserved_bytes: reserved, free_bytes: Math.max(0, budget - reserved) };
  }

  /**
   * Loads a known model (idempotent: a loaded model is returned as is; a loading one is awaited).
   * @returns whether this call started the load
   * @throws OpenAIError 400 `model_too_large` when it does not fit in the memory budget (nothing is started),
   *   400 `model_unloadable` when its directory cannot be read, 500 `model_load_failed` when the Worker fails.
   */
  async load(model: KnownModel): Promise<{ started: boolean }> {
    if (this.#closed) throw new OpenAIError(503, "the local engine is shutting down", { code: "shutting_down" });
    let slot = this.#slots.get(model.id);
    if (slot?.state === "unloading") {
      await slot.unloading;
      slot = this.#slots.get(model.id);
    }
    if (slot) {
      await slot.loading;
      return { started: false };
    }
    await this.#start(model, true).loading;
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
    this.#changed();
    slot.stop.abort();
    slot.unloading = (async () => {
      try {
        const engine = slot.engine!;
        const deadline = Date.now() + UNLOAD_DRAIN_MS;
        while (engine.inFlight > 0 && Date.now() < deadline) await Bun.sleep(10);
        await engine.close();
      } finally {
        this.#slots.delete(id);
        this.prompts.delete(id);
        this.#changed();
      }
    })();
    await slot.unloading;
    return { unloaded: true };
  }

  /**
   * Checks, without loading anything, that a request for `model` can be served: the refusals {@link acquire} gives
   * before it starts a load (the memory fit aside, which depends on what else is loaded).
   * @throws OpenAIError 503 `shutting_down`; when the model is not loaded, 404 `model_not_loaded`
   *   (`engine.load_on_demand` off) or 400 `model_unloadable` (its directory cannot be read).
   */
  checkServable(model: KnownModel): void {
    if (this.#closed) throw new OpenAIError(503, "the local engine is shutting down", { code: "shutting_down" });
    const current = this.#slots.get(model.id);
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
    const slot = this.#slots.get(model.id);
    if (!slot || slot.state !== "loaded" || !slot.engine) {
      throw new OpenAIError(503, `model '${model.id}' was unloaded before the request could start; retry`, {
        param: "model",
        code: "model_unloaded",
        headers: { "retry-after": "1" },
      });
    }
    slot.active++;
    this.#lastUsed.set(model.id, Date.now());
    let released = false;
    return {
      engine: slot.engine,
      signal: slot.stop.signal,
      release: () => {
        if (released) return;
        released = true;
        slot.active--;
        this.#lastUsed.set(model.id, Date.now());
      },
    };
  }

  /** A model as the admin API shows it. */
  view(model: KnownModel): ModelView {
    const slot = this.#slots.get(model.id);
    const facts = hasFacts(model.facts) ? model.facts : undefined;
    return toModelView(model, {
      state: slot?.state ?? "unloaded",
      info: slot?.engine?.info,
      weightBytes: slot?.weightBytes ?? facts?.weightBytes,
      kvReserveBytes: slot?.kvReserveBytes ?? (facts ? this.#kvReserve(facts) : undefined),
      inFlight: slot?.active ?? 0,
      prefixCache: this.settings.prefix_cache.enabled,
      loadedAt: slot?.loadedAt,
      lastUsedAt: this.#lastUsed.get(model.id),
    });
  }

  /** The Workers of the loaded models, by model id (prefix cache admin). */
  engines(): Map<string, EngineClient> {
    return new Map([...this.#slots].flatMap(([id, slot]) => (slot.state === "loaded" && slot.engine ? [[id, slot.engine]] : [])));
  }

  /** Counters of the loaded models' Workers, by id. */
  counters(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, slot] of this.#slots) if (slot.engine) out[id] = { ...slot.engine.counters };
    return out;
  }

  /** Stops the idle timer, unloads every model (cancelling what still runs) and ends the token-count Worker. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(
      [...this.#slots.keys()].map((id) =>
        this.unload(id).catch((error) => console.warn(`[ithaca] unloading '${id}' failed:`, error)),
      ),
    );
    this.prompts.close();
  }

  #configuredModel(config: LocalModelConfig): KnownModel {
    return {
      id: config.id,
      path: config.path,
      aliases: config.aliases ?? [],
      source: "config",
      facts: this.#facts.get(config.path),
    };
  }

  #kvReserve(facts: ModelFacts): number {
    return this.settings.memory.kv_reserve_bytes ?? defaultKvReserve(facts, this.settings.max_active);
  }

  /**
   * Reserves memory and starts the model's Worker.
   * @param enforceFit refuse (400) when over budget; false: warn only (configured models at boot)
   */
  #start(model: KnownModel, enforceFit: boolean): Slot {
    const facts = hasFacts(model.facts) ? model.facts : undefined;
    if (!facts && enforceFit) throw unloadable(model, "error" in model.facts ? model.facts.error : "unknown");
    const weightBytes = facts?.weightBytes ?? 0;
    const kvReserveBytes = facts ? this.#kvReserve(facts) : 0;
    const need = weightBytes + kvReserveBytes;
    const { budget_bytes: budget, free_bytes: free } = this.memory();
    if (need > free) {
      const loaded = [...this.#slots.keys()].join(", ") || "none";
      const message =
        `model '${model.id}' needs ${formatBytes(need)} (weights ${formatBytes(weightBytes)} + KV reserve ` +
        `${formatBytes(kvReserveBytes)}) but only ${formatBytes(free)} of the ${formatBytes(budget)} budget is free ` +
        `(loaded: ${loaded}); unload a model or raise engine.memory.budget_bytes`;
      if (enforceFit) throw new OpenAIError(400, message, { param: "model", code: "model_too_large" });
      console.warn(`[ithaca] ${message}; loading it anyway because it is configured under models:`);
    }
    const { cache_limit_bytes: cacheLimitBytes, wired_limit_bytes: wiredLimitBytes } = this.settings.memory;
    const { enabled, shared, max_bytes: maxBytes, max_entries: maxEntries, ttl_s: ttlS, block_size: blockSize } =
      this.settings.prefix_cache;
    const slot: Slot = {
      model,
      state: "loading",
      weightBytes,
      kvReserveBytes,
      stop: new AbortController(),
      active: 0,
      loading: undefined as unknown as Promise<Slot>,
    };
    slot.loading = EngineClient.start(
      { id: model.id, path: model.path },
      {
        maxActive: this.settings.max_active,
        maxQueue: this.settings.max_queue,
        memory: { cacheLimitBytes, wiredLimitBytes },
        prefixCache: { enabled, shared, maxBytes, maxEntries, ttlS, blockSize },
      },
    ).then(
      (engine) => {
        slot.engine = engine;
        slot.state = "loaded";
        slot.loadedAt = Date.now();
        this.#lastUsed.set(model.id, slot.loadedAt);
        this.#changed();
        return slot;
      },
      (error: unknown) => {
        this.#slots.delete(model.id);
        this.#changed();
        if (!enforceFit) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new OpenAIError(500, reason, { param: "model", code: "model_load_failed" });
      },
    );
    // A failed load is reported to whoever awaits it; keep an unobserved rejection from being fatal.
    slot.loading.catch(() => {});
    this.#slots.set(model.id, slot);
    this.#changed();
    return slot;
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

  /** Unloads loaded models idle (no request in flight) for `idle_ttl_s`. */
  #sweepIdle(): void {
    const ttlMs = this.settings.idle_ttl_s * 1000;
    const now = Date.now();
    for (const [id, slot] of this.#slots) {
      if (slot.state !== "loaded" || slot.active > 0 || (slot.engine?.inFlight ?? 0) > 0) continue;
      const idleMs = now - (this.#lastUsed.get(id) ?? slot.loadedAt ?? now);
      if (idleMs < ttlMs) continue;
      console.log(`[ithaca] unloading '${id}': idle for ${Math.round(idleMs / 1000)} s`);
      void this.unload(id).catch((error) => console.warn(`[ithaca] unloading '${id}' failed:`, error));
    }
  }
}
