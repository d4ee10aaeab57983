/**
 * Runs a request against its routing plan (plugins/router.ts `Router.plan`): the first entry answers unless it fails
 * before its answer started with a failure another backend may not have (429, 5xx: unreachable, timeout, cooling
 * down, overloaded); then the next entry is tried — the per-alias fallbacks of the config. A stream that has started
 * is never switched. The answering entry is named in `x-ithaca-model` and `x-ithaca-backend` response headers.
 */
import type { BackendCallContext } from "../backends/backend.ts";
import type { CatalogEntry } from "../catalog/catalog.ts";

/** Failures worth trying the next entry for. */
const FAILOVER_STATUSES = new Set([429, 500, 502, 503, 504, 529]);

/** What a route knows about a routed request. */
export interface RoutedRequest {
  /** Every entry to try, in order (never empty). */
  plan: readonly CatalogEntry[];
  sessionId?: string;
  /** The caller's cache scope (auth plugin `caller.scope`); see {@link BackendCallContext.cacheScope}. */
  cacheScope?: string;
  request: Request;
}

/** The backend call context for `entry`. */
export function callContext(entry: CatalogEntry, routed: RoutedRequest): BackendCallContext {
  const { request } = routed;
  return {
    model: entry.model,
    sessionId: routed.sessionId,
    cacheScope: routed.cacheScope,
    signal: request.signal,
    requestId: request.headers.get("x-request-id") ?? crypto.randomUUID(),
    anthropicBeta: request.headers.get("anthropic-beta") ?? undefined,
  };
}

/**
 * Calls `send` for each entry of the plan until one answers with something other than a fail-over status; the last
 * entry's answer is returned whatever it is.
 */
export async function dispatch(
  routed: RoutedRequest,
  send: (entry: CatalogEntry, ctx: BackendCallContext) => Promise<Response>,
): Promise<Response> {
  const plan = routed.plan;
  for (let i = 0; ; i++) {
    const entry = plan[i] as CatalogEntry;
    const response = await send(entry, callContext(entry, routed));
    const last = i === plan.length - 1;
    if (last || !FAILOVER_STATUSES.has(response.status) || routed.request.signal.aborted) {
      return labelled(response, entry);
    }
    await response.body?.cancel().catch(() => {});
    const next = plan[i + 1] as CatalogEntry;
    console.warn(
      `[ithaca] ${entry.model.id} (${entry.backend.id}) answered ${response.status}; falling back to ${next.model.id}`,
    );
  }
}

/** `response` with the answering model and backend named in headers. */
function labelled(response: Response, entry: CatalogEntry): Response {
  const headers = new Headers(response.headers);
  headers.set("x-ithaca-model", entry.model.id);
  headers.set("x-ithaca-backend", entry.backend.id);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
