/**
 * The unified model catalog: every model every backend serves, under one id space (DESIGN §2 step 4).
 *
 * Resolution of a requested `model` (case-insensitive, as Companion lower-cases ids; telemak-companion-wire §9 #14):
 * 1. a model whose `id` matches;
 * 2. otherwise every model listing it among its `aliases` (slugs, the bare upstream id, the upstream id alone when it
 *    serves one model). Several matches are fine when they are replicas of one upstream model (the routing policies
 *    choose); matches naming different models are ambiguous (400).
 * 3. otherwise 404 `model_not_found` listing what is servable.
 */
import type { Backend, BackendModel } from "../backends/backend.ts";
import { NOT_READY_RETRY_AFTER, upstreamBackendId } from "../backends/http/http-backend.ts";
import type { BackendRegistry } from "../backends/registry.ts";
import { OpenAIError } from "../protocol/errors.ts";

/** One servable model and the backend serving it. */
export interface CatalogEntry {
  readonly model: BackendModel;
  readonly backend: Backend;
}

/** 404 in the OpenAI shape listing the servable ids. */
function modelNotFound(requested: string, entries: readonly CatalogEntry[]): OpenAIError {
  const available = entries.map((entry) => entry.model.id).join(", ") || "(none)";
  return new OpenAIError(404, `The model '${requested}' does not exist. Available: ${available}`, {
    param: "model",
    code: "model_not_found",
  });
}

/**
 * The candidates for `requested`, in catalog order (see the module comment).
 * @throws OpenAIError 404 `model_not_found`, 400 `model_ambiguous`.
 */
export function resolveCandidates(entries: readonly CatalogEntry[], requested: string): CatalogEntry[] {
  const key = requested.toLowerCase();
  const byId = entries.filter((entry) => entry.model.id.toLowerCase() === key);
  if (byId.length > 0) return byId;
  const byAlias = entries.filter((entry) => entry.model.aliases?.some((alias) => alias.toLowerCase() === key));
  if (byAlias.length === 0) throw modelNotFound(requested, entries);
  const models = new Set(byAlias.map((entry) => entry.model.upstreamId.toLowerCase()));
  if (models.size > 1) {
    const ids = byAlias.map((entry) => entry.model.id).join(", ");
    throw new OpenAIError(400, `The model '${requested}' is ambiguous: it names ${ids}. Send one of those ids.`, {
      param: "model",
      code: "model_ambiguous",
    });
  }
  return byAlias;
}

/** Milliseconds a catalog snapshot is served before it is rebuilt in the background (drift no backend reports). */
export const CATALOG_MAX_AGE_MS = 2_000;

/** One build of the catalog: its entries in order, and the resolutions made against them. */
interface Snapshot {
  entries: CatalogEntry[];
  builtAt: number;
  /**
   * Successful resolutions by lower-cased requested id (bounded: only ids and aliases the catalog holds resolve).
   * Failures are not kept: anyone may send any id.
   */
  resolved: Map<string, readonly CatalogEntry[]>;
}

/**
 * The catalog over the live {@link BackendRegistry}. Its entries are built once and cached: a change of the registry
 * or of a backend's models makes the next read rebuild it (and wait for that); past {@link CATALOG_MAX_AGE_MS} the
 * cached entries are served while one rebuild runs in the background.
 */
export class Catalog {
  private readonly clashes = new Set<string>();
  private snapshot: Snapshot | undefined;
  private building: { generation: number; snapshot: Promise<Snapshot> } | undefined;
  /** Bumped on every change; a build started before a change is not trusted as fresh. */
  private generation = 0;

  constructor(readonly registry: BackendRegistry) {
    registry.onChange(() => this.invalidate());
  }

  /** Drops the cached entries: the next read rebuilds them. */
  invalidate(): void {
    this.generation++;
    this.snapshot = undefined;
  }

  /**
   * Every servable model, in backend order (local models first as the app builds them). Ids are unique: on a clash
   * the first backend keeps the id and a warning is logged once.
   */
  async entries(): Promise<CatalogEntry[]> {
    return (await this.current()).entries;
  }

  /**
   * Candidates for a requested model id (a fresh array: callers may reorder it).
   * @throws OpenAIError 404 / 400, see {@link resolveCandidates}.
   */
  async candidates(requested: string): Promise<CatalogEntry[]> {
    const snapshot = await this.current();
    const key = requested.toLowerCase();
    let found = snapshot.resolved.get(key);
    if (found === undefined) {
      try {
        found = resolveCandidates(snapshot.entries, requested);
      } catch (error) {
        throw this.engineNotReady(snapshot, requested) ?? error;
      }
      snapshot.resolved.set(key, found);
    }
    return [...found];
  }

  /**
   * For a request the catalog cannot resolve: a 503 with `Retry-After` when it names an engine that serves no model
   * now (none loaded, one loading, the engine restarting), which a retry may find; undefined otherwise (the 404
   * stands). An engine serving other models does not make `engine:unknown` a 503.
   */
  private engineNotReady(snapshot: Snapshot, requested: string): OpenAIError | undefined {
    const engine = requested.toLowerCase().split(":")[0] ?? "";
    const backend = this.registry.get(upstreamBackendId(engine));
    if (!backend || snapshot.entries.some((entry) => entry.backend === backend)) return undefined;
    return new OpenAIError(
      503,
      `engine '${engine}' serves no model now (none loaded, one loading, or it is restarting); try '${requested}' again shortly`,
      {
        param: "model",
        code: "model_not_ready",
        headers: { "retry-after": NOT_READY_RETRY_AFTER },
      },
    );
  }

  /** The snapshot to read now: the cached one (refreshed in the background past its age), or a new build. */
  private async current(): Promise<Snapshot> {
    const cached = this.snapshot;
    if (!cached) return this.build();
    if (Date.now() - cached.builtAt > CATALOG_MAX_AGE_MS) void this.build().catch(() => {});
    return cached;
  }

  /**
   * One shared build of the entries for the current generation; stored unless a change happened while it ran (a
   * read after the change starts its own build).
   */
  private build(): Promise<Snapshot> {
    const generation = this.generation;
    if (this.building?.generation === generation) return this.building.snapshot;
    const backends = this.registry.list();
    const snapshot = Promise.all(backends.map((backend) => backend.listModels()))
      .then((lists) => {
        const built: Snapshot = { entries: this.merge(backends, lists), builtAt: Date.now(), resolved: new Map() };
        if (generation === this.generation) this.snapshot = built;
        return built;
      })
      .finally(() => {
        if (this.building?.snapshot === snapshot) this.building = undefined;
      });
    this.building = { generation, snapshot };
    return snapshot;
  }

  /** The entries of `lists` (one per backend), first id wins. */
  private merge(backends: readonly Backend[], lists: BackendModel[][]): CatalogEntry[] {
    const seen = new Set<string>();
    const entries: CatalogEntry[] = [];
    lists.forEach((models, index) => {
      const backend = backends[index];
      if (!backend) return;
      for (const model of models) {
        const key = model.id.toLowerCase();
        if (seen.has(key)) {
          if (!this.clashes.has(key))
            console.warn(`[ithaca] model id '${model.id}' from backend '${backend.id}' is already taken; ignored`);
          this.clashes.add(key);
          continue;
        }
        seen.add(key);
        entries.push({ model, backend });
      }
    });
    return entries;
  }
}
