/**
 * session-affinity — keeps a conversation on one replica (built-in routing policy, registered by `src/app.ts` right
 * after the router, before user plugins).
 *
 * When the requested model has several replicas (two Telemaks serving the same weights, reachable by the bare
 * upstream id), the replica holding a conversation's KV prefix cache is the one that answers it fastest. This policy
 * orders the candidates by rendezvous (highest-random-weight) hashing of the session id
 * ({@link RoutingRequest.sessionId}) against each replica: the same session always ranks the replicas the same way,
 * different sessions spread evenly, and adding or removing a replica moves only the sessions that rank it first.
 * Requests without a session id, or with one candidate, keep the catalog order.
 *
 * A session moves only when its replica fails: the router's plan keeps this order (a cooling-down replica goes to the
 * end, the others keep their rank; `Router.plan`), and dispatch tries the next entry of the plan when one fails before
 * its answer starts (`src/routes/dispatch.ts`). So a failed replica's sessions go, each deterministically, to its own
 * next-best replica (spreading over the survivors), and sessions on the other replicas stay where they are.
 *
 * Source: D. G. Thaler and C. V. Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM
 * Transactions on Networking 6(1), 1998 (HRW hashing). The weight of a replica is the 64-bit wyhash
 * (`Bun.hash`) of the session id and the replica's identity (backend id, upstream model id).
 */
import type { CatalogEntry } from "../catalog/catalog.ts";
import type { RoutingPolicy, RoutingRequest } from "./router.ts";

/** Rendezvous weight of `entry` for `sessionId`: wyhash of the pair, NUL-separated (ids contain no NUL). */
function weight(sessionId: string, entry: CatalogEntry): bigint {
  return Bun.hash.wyhash(`${sessionId}\u0000${entry.backend.id}\u0000${entry.model.upstreamId}`);
}

/**
 * The candidates ordered by rendezvous hashing score for `sessionId`, highest first (Thaler & Ravishankar 1998).
 * The result depends only on the session id and the set of candidates, not on their order; removing a candidate
 * leaves the relative order of the others unchanged.
 * @param sessionId the conversation id (any non-empty string).
 * @param candidates replicas of one model, as the catalog resolves them; not modified.
 * @returns a new array with the same entries.
 */
export function rendezvousOrder(sessionId: string, candidates: readonly CatalogEntry[]): CatalogEntry[] {
  return candidates
    .map((entry) => ({ entry, weight: weight(sessionId, entry) }))
    .sort((a, b) => (a.weight === b.weight ? 0 : a.weight > b.weight ? -1 : 1))
    .map(({ entry }) => entry);
}

/** The session-affinity routing policy (see the module comment). Never drops or refuses a candidate. */
export const sessionAffinity: RoutingPolicy = {
  name: "session-affinity",
  select(candidates: readonly CatalogEntry[], { sessionId }: RoutingRequest) {
    if (sessionId === undefined || candidates.length < 2) return candidates;
    return rendezvousOrder(sessionId, candidates);
  },
};
