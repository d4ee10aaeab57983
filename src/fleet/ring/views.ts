/**
 * What the admin API shows of ring clusters (./clusters.ts): a cluster, its nodes' facts and load options, and the
 * status of its load.
 */
import type { RingNode } from "../../store/ring-clusters.ts";
import type { NodeFacts } from "./node-facts.ts";
import type { LoadOption, RingMode } from "./plan.ts";

/** A cluster as `/admin/clusters` shows it. */
export interface RingClusterView {
  id: string;
  name: string;
  kind: "ring";
  models_dir: string;
  ithaca_command: string;
  prefill_deadline_s: number;
  decode_deadline_s: number;
  nodes: Array<{ host: string; ssh: string; ip: string; ssh_host_key: string | null }>;
  ssh_key_source: "cluster" | "ITHACA_SSH_KEY" | "agent" | "none";
  created_at: number;
  updated_at: number;
}

/** One node's facts as the load options show them. */
export interface NodeReport {
  host: string;
  mem_bytes: number;
  budget_bytes: number;
  present: boolean;
  missing: string[];
}

/** `GET /admin/clusters/{id}/load-options?model=…`. */
export interface LoadOptionsView {
  cluster: string;
  model: string;
  /** The model's weights, in bytes (as the first node holding it reports). */
  model_bytes: number;
  nodes: NodeReport[];
  options: LoadOption[];
}

/** `GET /admin/clusters/{id}/status` of a ring cluster. */
export interface RingStatusView {
  cluster: string;
  /** `idle`: nothing loaded. */
  state: "idle" | "loading" | "loaded" | "degraded";
  model: string | null;
  mode: RingMode | null;
  /** Why it is degraded (a rank's death, a failed load). */
  reason: string | null;
  ranks: Array<{
    rank: number;
    host: string;
    phase: string;
    url: string | null;
    exit_reason: string | null;
    /** The rank's own engine counters, while it serves. */
    engine: RankEngineView | null;
  }>;
}

/** A rank's engine as its status shows it (its `/admin/models/{id}/stats`). */
export interface RankEngineView {
  active: number | null;
  queued: number | null;
  completed: number | null;
  decode_steps: number | null;
  live_arrays: number | null;
  memory_active_bytes: number | null;
  memory_peak_bytes: number | null;
}

/** A node's facts as the load options show them. */
export function reportOf(node: RingNode, facts: NodeFacts): NodeReport {
  return {
    host: node.host,
    mem_bytes: facts.memBytes,
    budget_bytes: Math.floor(facts.budgetBytes),
    present: facts.present,
    missing: facts.missing,
  };
}
