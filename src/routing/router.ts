/**
 * The router: which backends answer a request, in order (DESIGN §2 step 4).
 *
 * The requested `model` is resolved through the catalog into candidates (an id, or an alias several replicas may
 * share; see src/catalog/catalog.ts), then every registered routing policy, in registration order, may reorder or
 * filter them; the first candidate left answers, the rest and the configured fallbacks form the plan tried when it
 * fails before its answer started (src/routes/dispatch.ts). Unknown models get 404 `model_not_found` listing what is
 * servable.
 *
 * The app registers one policy by default, session affinity (./session-affinity.ts). Policies are plain objects;
 * plugins/router.ts wraps them as Elysia plugins for users' routing plugins.
 */
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import type { Catalog, CatalogEntry } from "../catalog/catalog.ts";
import { OpenAIError } from "../protocol/errors.ts";

/** The virtual model id Companion's gateway sends for short checks (`max_tokens` ≤ 20): any small ready model. */
export const PROBE_MODEL = "probe";

/** What a routing policy knows about the request. */
export interface RoutingRequest {
  /** The `model` the client sent. */
  model: string;
  /** Conversation id from the session plugin, if any. */
  sessionId?: string;
  /** The validated request body. */
  body: CanonicalChatRequest;
  headers: Headers;
}

/**
 * A routing policy: returns the candidates to keep, best first. It may reorder, drop (return fewer) or refuse
 * (throw an `OpenAIError` with the status to answer). It must not add candidates the catalog did not offer.
 */
export interface RoutingPolicy {
  /** Unique name, for logs and errors. */
  readonly name: string;
  select(
    candidates: readonly CatalogEntry[],
    request: RoutingRequest,
  ): readonly CatalogEntry[] | Promise<readonly CatalogEntry[]>;
}

/** Router options. */
export interface RouterOptions {
  /**
   * Fallback lists (config `fallbacks`): a requested id → ids tried in order after its own candidates fail before
   * their answer started. Keys match case-insensitively.
   */
  fallbacks?: Record<string, readonly string[]>;
  /**
   * Alias patterns (config `aliases`): glob → id, consulted in order when the requested id matches no model
   * (`claude-*` → a local model, for Claude Code).
   */
  aliases?: Record<string, string>;
}

/** Resolves models through the catalog and the registered policies. */
export class Router {
  private readonly policies: RoutingPolicy[] = [];
  private readonly fallbacks = new Map<string, readonly string[]>();
  private readonly warned = new Set<string>();
  private readonly aliases: Array<{ glob: Bun.Glob; target: string }>;

  constructor(
    readonly catalog: Catalog,
    options: RouterOptions = {},
  ) {
    for (const [id, list] of Object.entries(options.fallbacks ?? {})) this.fallbacks.set(id.toLowerCase(), list);
    this.aliases = Object.entries(options.aliases ?? {}).map(([pattern, target]) => ({
      glob: new Bun.Glob(pattern.toLowerCase()),
      target,
    }));
  }

  /**
   * The catalog's candidates for `model`; when none match, those of the first alias pattern matching it.
   * @throws OpenAIError 404 / 400 as the catalog does for the requested id.
   */
  private async candidatesOf(model: string): Promise<CatalogEntry[]> {
    try {
      return await this.catalog.candidates(model);
    } catch (error) {
      if (!(error instanceof OpenAIError) || error.code !== "model_not_found") throw error;
      if (model.toLowerCase() === PROBE_MODEL) {
        const probe = await this.probeCandidates();
        if (probe.length > 0) return probe;
      }
      const alias = this.aliases.find(({ glob }) => glob.match(model.toLowerCase()));
      if (!alias) throw error;
      return this.catalog.candidates(alias.target);
    }
  }

  /**
   * The ready models, smallest first (weights' size when known), for the virtual id `probe` that Companion sends to
   * check an engine with a few tokens (telemak-companion-wire §9 #30).
   */
  private async probeCandidates(): Promise<CatalogEntry[]> {
    const size = (entry: CatalogEntry) => {
      const bytes = entry.model.details?.size_bytes;
      return typeof bytes === "number" ? bytes : Number.MAX_SAFE_INTEGER;
    };
    const ready = (await this.catalog.entries()).filter((entry) => entry.model.ready);
    return ready.sort((a, b) => size(a) - size(b));
  }

  /**
   * Adds a policy after those already registered.
   * @throws Error when a policy with the same name is registered.
   */
  registerPolicy(policy: RoutingPolicy): void {
    if (this.policies.some((known) => known.name === policy.name)) {
      throw new Error(`routing policy '${policy.name}' is already registered`);
    }
    this.policies.push(policy);
  }

  /** Names of the registered policies, in order. */
  policyNames(): string[] {
    return this.policies.map((policy) => policy.name);
  }

  /**
   * Picks the entry that answers `request`.
   * @throws OpenAIError 404 `model_not_found`, 400 `model_ambiguous`, 503 `no_route` when policies left nothing, or
   *   whatever a policy throws.
   */
  async route(request: RoutingRequest): Promise<CatalogEntry> {
    const [chosen] = await this.plan(request);
    return chosen as CatalogEntry;
  }

  /**
   * Every entry to try for `request`, in order: the policies' choice among the model's own candidates (or those of
   * the first matching alias pattern when no model has the requested id), then the
   * candidates of its configured fallbacks (unknown fallback ids are skipped with a warning). Within each group,
   * backends cooling down after failures ({@link Backend.available}) move to the end. Never empty.
   * @throws as {@link route}.
   */
  async plan(request: RoutingRequest): Promise<CatalogEntry[]> {
    let candidates: readonly CatalogEntry[] = await this.candidatesOf(request.model);
    for (const policy of this.policies) candidates = await policy.select(candidates, request);
    if (candidates.length === 0) {
      throw new OpenAIError(
        503,
        `No backend can serve '${request.model}' now: ` +
          `routing policies (${this.policyNames().join(", ")}) left no candidate.`,
        { param: "model", code: "no_route" },
      );
    }
    const plan = availableFirst(candidates);
    for (const fallback of this.fallbacks.get(request.model.toLowerCase()) ?? []) {
      try {
        const entries = await this.catalog.candidates(fallback);
        plan.push(...availableFirst(entries.filter((entry) => !plan.some((planned) => sameEntry(planned, entry)))));
      } catch {
        if (!this.warned.has(fallback))
          console.warn(`[ithaca] fallback '${fallback}' of '${request.model}' is not servable; skipped`);
        this.warned.add(fallback);
      }
    }
    return plan;
  }
}

/** Whether two entries are the same model of the same backend (possibly from different catalog snapshots). */
function sameEntry(a: CatalogEntry, b: CatalogEntry): boolean {
  return a.backend.id === b.backend.id && a.model.id === b.model.id;
}

/** `entries` with those whose backend is cooling down moved to the end (order otherwise kept). */
function availableFirst(entries: readonly CatalogEntry[]): CatalogEntry[] {
  const up = (entry: CatalogEntry) => entry.backend.available?.() ?? true;
  return [...entries.filter(up), ...entries.filter((entry) => !up(entry))];
}
