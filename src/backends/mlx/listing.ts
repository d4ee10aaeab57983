/**
 * Which local models exist: those configured under `models:` and those found under `engine.models_dir` (the
 * inventory), merged into one listing that is cached for a few seconds, and resolution of a requested id or alias.
 */
import { realpathSync } from "node:fs";
import type { LocalModelConfig as ConfiguredModel } from "../../config/schema.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import { TtlCache } from "../ttl-cache.ts";
import { FactsCache, scanModelsDir } from "./inventory.ts";
import type { KnownModel } from "./model-view.ts";

/** A model listed under `models:` in the configuration (the schema's entry; `aliases` may be left out: none). */
export type LocalModelConfig = Pick<ConfiguredModel, "id" | "path"> & Partial<Pick<ConfiguredModel, "aliases">>;

/** How long a listing of the known models (and `models_dir`) is reused, in milliseconds. */
const INVENTORY_TTL_MS = 5000;

function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The known local models: configured ones and the inventory under `models_dir`. */
export class ModelListing {
  readonly #configured: LocalModelConfig[];
  readonly #modelsDir: string | undefined;
  readonly #facts = new FactsCache();
  readonly #known: TtlCache<KnownModel[]>;

  /**
   * Reads the configured models' facts now (the listing served if a scan fails).
   * @param configured the `models:` entries
   * @param modelsDir `engine.models_dir`; undefined: no inventory
   * @param onLoad called after each (re)scan, once its listing is stored
   */
  constructor(configured: LocalModelConfig[], modelsDir: string | undefined, onLoad: () => void) {
    this.#configured = configured;
    this.#modelsDir = modelsDir;
    this.#known = new TtlCache({
      load: () => this.#scan(),
      fallback: configured.map((config) => this.#configuredModel(config)),
      ttlMs: INVENTORY_TTL_MS,
      retryMs: INVENTORY_TTL_MS,
      onError: (error) => console.warn(`[ithaca] listing local models failed:`, error),
      onLoad,
    });
  }

  /**
   * The configured models, in order, each one's facts read when it is reached (re-read only when its files
   * changed).
   */
  *configured(): Generator<KnownModel> {
    for (const config of this.#configured) yield this.#configuredModel(config);
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

  async #scan(): Promise<KnownModel[]> {
    const dir = this.#modelsDir;
    const inventory = dir === undefined ? [] : await scanModelsDir(dir, this.#facts);
    const configured = this.#configured.map((config) => this.#configuredModel(config));
    const ids = new Set(configured.map((model) => model.id.toLowerCase()));
    const paths = new Set(configured.map((model) => realPathOf(model.path)));
    const listed = inventory
      .filter((entry) => !ids.has(entry.id.toLowerCase()) && !paths.has(entry.realPath))
      .map(
        (entry): KnownModel => ({
          id: entry.id,
          path: entry.path,
          aliases: [],
          source: "inventory",
          facts: entry.facts,
        }),
      );
    return [...configured, ...listed];
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
}
