/**
 * Example routing plugin: session affinity over replicas.
 *
 * When a model id names several replicas (e.g. two Telemaks both serving `mlx-community/Qwen3-4B-4bit`, reachable
 * by that bare id), this policy puts first the replica that rendezvous hashing assigns to the conversation: the same
 * `session_id` always lands on the same replica (whose KV prefix cache holds the conversation), different
 * conversations spread across replicas, and removing a replica only moves the conversations it held. Requests
 * without a session id keep the catalog order.
 *
 * Use it from ithaca.yaml (`plugins: [./plugins/examples/session-affinity.ts]`) or in code:
 * `app.use(routingPolicy(sessionAffinity))`.
 */
import type { CatalogEntry } from "../../src/catalog/catalog.ts";
import { routingPolicy, type RoutingPolicy } from "../router.ts";

/** Rendezvous weight of a replica for a conversation. */
function weight(sessionId: string, entry: CatalogEntry): number {
  return Bun.hash.xxHash32(`${sessionId}\u0000${entry.backend.id}\u0000${entry.model.id}`);
}

export const sessionAffinity: RoutingPolicy = {
  name: "session-affinity",
  select(candidates, { sessionId }) {
    if (sessionId === undefined || candidates.length < 2) return candidates;
    return [...candidates].sort((a, b) => weight(sessionId, b) - weight(sessionId, a));
  },
};

export default routingPolicy(sessionAffinity);
