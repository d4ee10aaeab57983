/**
 * router — which backend answers (DESIGN §2 step 4).
 *
 * The requested `model` is resolved through the catalog into candidates (an id, or an alias several replicas may
 * share; see `src/catalog/catalog.ts`), then every registered routing policy, in registration order, may reorder or
 * filter them; the first candidate left answers. Unknown models get 404 `model_not_found` listing what is servable.
 *
 * Context: `router` (decorator, for plugins registering policies) and, on routes declaring `routed: true`, `route`
 * (the chosen {@link CatalogEntry}: `route.backend`, `route.model`) and `plan` (every entry to try in order: the
 * chosen one, the other candidates, then the configured fallbacks; see {@link Router.plan}).
 *
 * The app registers one policy by default, session affinity (plugins/session-affinity.ts: a conversation stays on the
 * replica its session id hashes to, and moves to its next-best replica only when that one fails).
 *
 * A custom routing plugin is an ordinary Elysia plugin: wrap a {@link RoutingPolicy} with {@link routingPolicy} and
 * `.use()` it after this plugin (or list its module under `plugins:` in ithaca.yaml); it runs after the built-in
 * policy. See plugins/README.md.
 */
import { Elysia, type AnyElysia } from "elysia";
import type { CanonicalChatRequest } from "../src/backends/backend.ts";
import type { Catalog, CatalogEntry } from "../src/catalog/catalog.ts";
import { OpenAIError } from "../src/protocol/errors.ts";
import { sessionPlugin } from "./session.ts";

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
      const alias = this.aliases.find(({ glob }) => glob.match(model.toLowerCase()));
      if (!alias || !(error instanceof OpenAIError) || error.code !== "model_not_found") throw error;
      return this.catalog.candidates(alias.target);
    }
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
        if (!this.warned.has(fallback)) console.warn(`[ithaca] fallback '${fallback}' of '${request.model}' is not servable; skipped`);
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

function isChatBody(body: unknown): body is CanonicalChatRequest {
  return body !== null && typeof body === "object" && "model" in body && typeof body.model === "string";
}

/** The router plugin (see the module comment). */
export function routerPlugin(router: Router) {
  return new Elysia({ name: "ithaca:router" })
    .use(sessionPlugin())
    .decorate("router", router)
    .macro({
      /** Resolve `body.model` to a backend before the handler runs (after validation). */
      routed: {
        async resolve({ body, sessionId, request }) {
          if (!isChatBody(body)) throw new OpenAIError(400, "Missing required parameter: 'model'.", { param: "model" });
          const plan = await router.plan({ model: body.model, sessionId, body, headers: request.headers });
          return { route: plan[0] as CatalogEntry, plan };
        },
      },
    });
}

/**
 * Wraps a policy as an Elysia plugin: `app.use(routingPolicy(myPolicy))`. The app must already use
 * {@link routerPlugin}; the policy is registered with that app's router.
 * @throws Error when the app has no router.
 */
export function routingPolicy(policy: RoutingPolicy) {
  return (app: AnyElysia) => {
    const router: unknown = (app.decorator as Record<string, unknown>).router;
    if (!(router instanceof Router)) {
      throw new Error(`routing policy '${policy.name}' needs an app that uses the router plugin first`);
    }
    router.registerPolicy(policy);
    return app;
  };
}
