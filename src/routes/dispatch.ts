/**
 * Runs a request against its routing plan (src/routing: `Router.plan`): the first entry answers unless it fails
 * before its answer started with a failure another backend may not have (429, 5xx: unreachable, timeout, cooling
 * down, overloaded); then the next entry is tried — the per-alias fallbacks of the config. A stream that has started
 * is never switched. The answering entry is named in `x-ithaca-model` and `x-ithaca-backend` response headers
 * ({@link labels}), on errors too. The request's run (./runs.ts) learns which entry is tried, and gives backends the
 * signal an operator's cancellation aborts and the meter relays report to.
 */
import type { BackendCallContext } from "../backends/backend.ts";
import type { CatalogEntry } from "../catalog/catalog.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { RequestDefaults } from "./defaults.ts";
import type { Run } from "./runs.ts";

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
  /** The request's run (the request log, `/admin/runs`); absent: nothing is recorded. */
  run?: Run;
  /** The operator's request defaults (`/admin/settings`); absent: none. */
  defaults?: RequestDefaults;
}

/** A backend's answer and the plan entry that gave it. */
export interface Dispatched<A> {
  answer: A;
  entry: CatalogEntry;
}

/** The backend call context for `entry`. */
export function callContext(entry: CatalogEntry, routed: RoutedRequest): BackendCallContext {
  const { request, run } = routed;
  return {
    model: entry.model,
    sessionId: routed.sessionId,
    cacheScope: routed.cacheScope,
    signal: run?.signal ?? request.signal,
    requestId: request.headers.get("x-request-id") ?? run?.id ?? crypto.randomUUID(),
    anthropicBeta: request.headers.get("anthropic-beta") ?? undefined,
    meter: run,
  };
}

/** The response headers naming the entry that answered. */
export function labels(entry: CatalogEntry): Record<string, string> {
  return { "x-ithaca-model": entry.model.id, "x-ithaca-backend": entry.backend.id };
}

/**
 * Calls `send` for each entry of the plan until one answers or fails with something other than a fail-over status.
 * @returns the first answer and its entry.
 * @throws the last failure (an {@link OpenAIError} carries the labels of its entry), or a non-fail-over one at once.
 */
export async function dispatch<A>(
  routed: RoutedRequest,
  send: (entry: CatalogEntry, ctx: BackendCallContext) => Promise<A>,
): Promise<Dispatched<A>> {
  const plan = routed.plan;
  for (let i = 0; ; i++) {
    const entry = plan[i] as CatalogEntry;
    routed.run?.serving(entry);
    try {
      return { answer: await send(entry, callContext(entry, routed)), entry };
    } catch (error) {
      const last = i === plan.length - 1;
      if (!(error instanceof OpenAIError)) throw error;
      if (last || !FAILOVER_STATUSES.has(error.status) || (routed.run?.signal ?? routed.request.signal).aborted) {
        Object.assign(error.headers, labels(entry));
        throw error;
      }
      const next = plan[i + 1] as CatalogEntry;
      console.warn(
        `[ithaca] ${entry.model.id} (${entry.backend.id}) answered ${error.status}; falling back to ${next.model.id}`,
      );
    }
  }
}
