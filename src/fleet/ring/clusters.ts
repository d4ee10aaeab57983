/**
 * Ring clusters (issue 17): machines that run one model together over MLX's ring backend, their ranks spawned over
 * SSH (reference/odyssai-x-wire.md §6). This module keeps the clusters (saved in the runtime database, listed under
 * `/admin/clusters` beside the engines with `kind: "ring"`), reads every node's facts over SSH, and plans a load:
 * the load options, and the preflight of §6.4 — the model present and complete on every node, the mode valid for
 * the model on that many ranks (400 `invalid_mode_for_model`), the shares within every node's memory budget and the
 * whole within the cluster's (400 `model_too_big_for_cluster`).
 *
 * A node's host key is pinned at its first contact, as for enrolled engines (../ssh-enrolment.ts).
 */
import type { BackendRegistry } from "../../backends/registry.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { RingClusterRecord, RingNode } from "../../store/ring-clusters.ts";
import type { Store } from "../../store/store.ts";
import { endpointOf, sshKeySource } from "../ssh-enrolment.ts";
import { SshError } from "../ssh-errors.ts";
import { toHttpError } from "../ssh-ops.ts";
import type { SshEndpoint, SshPool } from "../ssh.ts";
import { modelFactsOf, type NodeFacts, readNodeFacts, validModelPath } from "./node-facts.ts";
import { READY_TIMEOUT_MS, RingLoad } from "./lifecycle.ts";
import { killCommand } from "./ranks.ts";
import {
  type LoadOptionsView,
  type RankEngineView,
  type RingClusterView,
  type RingStatusView,
  reportOf,
} from "./views.ts";
import { isRefusal, loadOptions, planRing, type RingMode, type RingPlan } from "./plan.ts";

/** What `PUT /admin/clusters/{id}` with `kind: "ring"` sends. */
export interface RingClusterInput {
  kind: "ring";
  name?: string;
  models_dir: string;
  /** How a node runs Ithaca (default `ithaca`). */
  ithaca_command?: string;
  /** Path of an SSH private key on this machine, for every node (else `ITHACA_SSH_KEY`, else the agent). */
  ssh_key?: string;
  prefill_deadline_s?: number;
  decode_deadline_s?: number;
  nodes: Array<{ host: string; ssh: string; ip: string; ssh_host_key?: string }>;
}

/** A load's request, as `POST /admin/clusters/{id}/load` sends it. */
export interface RingLoadRequest {
  model: string;
  mode?: RingMode;
  /** How many nodes (the first ones, in rank order), or their hosts in rank order; default: all. */
  nodes?: number | string[];
}

/** A plan the preflight accepted, with the nodes it runs on (rank order). */
export interface AcceptedLoad {
  model: string;
  plan: RingPlan;
  nodes: RingNode[];
}

const notFound = (id: string) => new OpenAIError(404, `no engine '${id}'`, { code: "engine_not_found", param: "id" });

/** Watchdog defaults (odyssai-x-wire §6.4 "Generation watchdog"), in seconds. */
export const DEFAULT_PREFILL_DEADLINE_S = 600;
export const DEFAULT_DECODE_DEADLINE_S = 300;

/** Deadline of the clean-up command on one node at reset, in ms. */
const RESET_TIMEOUT_MS = 15_000;

/** The ring clusters of this Ithaca (see the module comment). */
export class RingClusters {
  /** The current load of each cluster that has one (loading, loaded or degraded). */
  private readonly loads = new Map<string, RingLoad>();

  constructor(
    private readonly store: Store,
    private readonly ssh: SshPool,
    private readonly registry: BackendRegistry,
    private readonly env: Record<string, string | undefined> = process.env,
    private readonly readyTimeoutMs = READY_TIMEOUT_MS,
  ) {}

  /**
   * Loads `request.model` across the cluster: the preflight, then the ranks spawned over SSH; the model serves once
   * rank 0 is ready. A load already there is unloaded first.
   * @throws OpenAIError as {@link preflight}; 409 `cluster_busy` while a load is in progress; 502 `load_failed`.
   */
  async load(id: string, request: RingLoadRequest) {
    const accepted = await this.preflight(id, request);
    if (this.loads.get(id)?.state === "loading") {
      throw new OpenAIError(409, `cluster '${id}' is loading a model already`, { code: "cluster_busy" });
    }
    await this.unload(id);
    const cluster = this.cluster(id);
    const spec = { cluster, ...accepted, endpoint: (node: RingNode) => this.endpoint(cluster, node) };
    const started = performance.now();
    const load = new RingLoad(spec, this.ssh, this.registry);
    this.loads.set(id, load);
    await load.start(this.readyTimeoutMs);
    return {
      loaded: true,
      ...summaryOf(id, accepted),
      url: load.served?.url ?? null,
      load_s: Math.round((performance.now() - started) / 10) / 100,
    };
  }

  /** The preflight's answer to a dry run: what would load where, each rank's layers and bytes. */
  async plan(id: string, request: RingLoadRequest) {
    const accepted = await this.preflight(id, request);
    return { dry_run: true, ...summaryOf(id, accepted), ranks: accepted.plan.ranks };
  }

  /** Stops the cluster's ranks, if any. @returns what was unloaded. @throws OpenAIError 404 `engine_not_found`. */
  async unload(id: string): Promise<{ unloaded: string | null; cluster: string }> {
    this.cluster(id);
    const load = this.loads.get(id);
    this.loads.delete(id);
    await load?.stop();
    return { unloaded: load?.spec.model ?? null, cluster: id };
  }

  /**
   * Unloads, then kills whatever is left of the cluster's ranks on every node (odyssai-x-wire §6.1 orphan sweep),
   * and forgets a degraded state.
   * @returns each node's clean-up result.
   */
  async reset(id: string) {
    const cluster = this.cluster(id);
    await this.unload(id);
    const swept = await Promise.allSettled(
      cluster.nodes.map((node) => this.ssh.exec(this.endpoint(cluster, node), killCommand(id), RESET_TIMEOUT_MS)),
    );
    return {
      reset: true,
      cluster: id,
      nodes: swept.map((result, rank) => ({
        host: (cluster.nodes[rank] as RingNode).host,
        ok: result.status === "fulfilled" && result.value.rc === 0,
      })),
    };
  }

  /** Where the cluster's load stands, rank by rank. @throws OpenAIError 404 `engine_not_found`. */
  async status(id: string): Promise<RingStatusView> {
    this.cluster(id);
    const load = this.loads.get(id);
    const stats = (await load?.rankStats()) ?? [];
    return {
      cluster: id,
      state: load?.state ?? "idle",
      model: load?.spec.model ?? null,
      mode: load?.spec.plan.mode ?? null,
      reason: load?.reason ?? null,
      ranks: (load?.ranks ?? []).map((rank) => ({
        rank: rank.spec.rank,
        host: rank.spec.host,
        phase: rank.phase,
        url: rank.readyEvent?.url ?? null,
        exit_reason: rank.phase === "exited" ? (rank.exitReason ?? null) : null,
        engine: engineView(stats[rank.spec.rank]),
      })),
    };
  }

  /** Stops every cluster's ranks (at shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.loads.keys()].map((id) => this.unload(id)));
  }

  /** Whether `id` is a ring cluster. */
  has(id: string): boolean {
    return this.store.ringClusters.get(id) !== undefined;
  }

  list(): RingClusterView[] {
    return this.store.ringClusters.list().map((cluster) => this.viewOf(cluster));
  }

  view(id: string): RingClusterView | undefined {
    const cluster = this.store.ringClusters.get(id);
    return cluster ? this.viewOf(cluster) : undefined;
  }

  /**
   * Saves a cluster: contacts every node over SSH first and pins the host key each offers (or the one given).
   * @throws OpenAIError 400 `invalid_cluster` for duplicate hosts or IPs; the SSH failure of a node (`ssh_<kind>`,
   *   502/504/500) naming it, unless `force` (then it is saved unpinned).
   */
  async put(id: string, input: RingClusterInput, options: { force?: boolean } = {}): Promise<RingClusterView> {
    for (const field of ["host", "ip"] as const) {
      const seen = new Set<string>();
      for (const node of input.nodes) {
        if (seen.has(node[field])) {
          throw new OpenAIError(400, `nodes: ${field} '${node[field]}' appears twice`, {
            code: "invalid_cluster",
            param: "nodes",
          });
        }
        seen.add(node[field]);
      }
    }
    const existing = this.store.ringClusters.get(id);
    const sshKeyPath = input.ssh_key ?? existing?.sshKeyPath ?? null;
    const nodes: RingNode[] = input.nodes.map((node) => {
      const before = existing?.nodes.find((n) => n.host === node.host && n.ssh === node.ssh);
      return {
        host: node.host,
        ssh: node.ssh,
        ip: node.ip,
        sshHostKey: node.ssh_host_key ?? before?.sshHostKey ?? null,
      };
    });
    const contacts = await Promise.allSettled(
      nodes.map((node) => this.ssh.contact(this.endpoint({ id, sshKeyPath }, node))),
    );
    contacts.forEach((contact, rank) => {
      const node = nodes[rank] as RingNode;
      if (contact.status === "fulfilled") node.sshHostKey ??= contact.value.hostKey;
      else if (!options.force) throw toHttpError(contact.reason);
    });
    const saved = this.store.ringClusters.put({
      id,
      label: input.name ?? existing?.label ?? id,
      modelsDir: input.models_dir,
      ithacaCommand: input.ithaca_command ?? existing?.ithacaCommand ?? "ithaca",
      sshKeyPath,
      nodes,
      prefillDeadlineS: input.prefill_deadline_s ?? existing?.prefillDeadlineS ?? DEFAULT_PREFILL_DEADLINE_S,
      decodeDeadlineS: input.decode_deadline_s ?? existing?.decodeDeadlineS ?? DEFAULT_DECODE_DEADLINE_S,
    });
    return this.viewOf(saved);
  }

  /** Forgets a cluster, its ranks stopped first. @returns whether there was one. */
  async remove(id: string): Promise<boolean> {
    if (!this.has(id)) return false;
    await this.unload(id);
    return this.store.ringClusters.delete(id);
  }

  /**
   * Every (nodes, mode) choice for `model`, with whether it fits and why not, and each node's facts.
   * @throws OpenAIError 404 `engine_not_found`; 400 `invalid_model` for a path that is not acceptable; 404
   *   `model_not_found` when no node holds a readable config of it; a node's SSH failure naming it.
   */
  async loadOptions(id: string, model: string): Promise<LoadOptionsView> {
    const cluster = this.cluster(id);
    const facts = await this.nodeFacts(cluster, cluster.nodes, model);
    const { bytes, planning } = this.modelOf(model, facts);
    return {
      cluster: id,
      model,
      model_bytes: bytes,
      nodes: facts.map((f, rank) => reportOf(cluster.nodes[rank] as RingNode, f)),
      options: loadOptions(
        planning,
        facts.map((f) => f.budgetBytes),
      ),
    };
  }

  /**
   * The preflight of a load (odyssai-x-wire §6.4): the nodes chosen, the model complete on each, the plan.
   * @throws OpenAIError 404 `engine_not_found`; 400 `invalid_nodes` (a count out of range, an unknown or repeated
   *   host), `invalid_model`, `model_incomplete` (naming each node and what it lacks), `invalid_mode_for_model`,
   *   `model_too_big_for_cluster`; 404 `model_not_found`; a node's SSH failure naming it.
   */
  async preflight(id: string, request: RingLoadRequest): Promise<AcceptedLoad> {
    const cluster = this.cluster(id);
    const nodes = chosenNodes(cluster, request.nodes);
    const facts = await this.nodeFacts(cluster, nodes, request.model);
    const incomplete = facts.flatMap((f, rank) =>
      f.missing.length > 0 ? [`${(nodes[rank] as RingNode).host}: ${f.missing.join(", ")}`] : [],
    );
    if (incomplete.length > 0) {
      throw new OpenAIError(400, `model '${request.model}' is not complete on every node (${incomplete.join("; ")})`, {
        code: "model_incomplete",
        param: "model",
      });
    }
    const { planning } = this.modelOf(request.model, facts);
    const plan = planRing(
      planning,
      request.mode ?? "pipeline",
      facts.map((f) => f.budgetBytes),
    );
    if (isRefusal(plan)) throw new OpenAIError(400, plan.reason, { code: plan.code, param: "mode" });
    return { model: request.model, plan, nodes };
  }

  /** The SSH login of one node. */
  endpoint(cluster: Pick<RingClusterRecord, "id" | "sshKeyPath">, node: RingNode): SshEndpoint {
    return endpointOf(
      {
        id: `${cluster.id}/${node.host}`,
        sshKeyPath: cluster.sshKeyPath,
        sshHostKey: node.sshHostKey,
        sshTarget: node.ssh,
      },
      this.env,
    );
  }

  /** The stored cluster `id`. @throws OpenAIError 404 `engine_not_found`. */
  cluster(id: string): RingClusterRecord {
    const cluster = this.store.ringClusters.get(id);
    if (!cluster) throw notFound(id);
    return cluster;
  }

  /** Every node's facts, read in parallel; the first SSH failure (naming its node) is thrown. */
  private async nodeFacts(cluster: RingClusterRecord, nodes: RingNode[], model: string): Promise<NodeFacts[]> {
    if (!validModelPath(model)) {
      throw new OpenAIError(400, `model '${model.slice(0, 200)}' is not a valid model path`, {
        code: "invalid_model",
        param: "model",
      });
    }
    const read = await Promise.allSettled(
      nodes.map(async (node) => {
        const endpoint = this.endpoint(cluster, node);
        const facts = await readNodeFacts(this.ssh, endpoint, cluster.modelsDir, model);
        return facts;
      }),
    );
    return read.map((result, rank) => {
      if (result.status === "fulfilled") return result.value;
      const host = (nodes[rank] as RingNode).host;
      if (result.reason instanceof SshError) throw toHttpError(result.reason);
      throw new OpenAIError(502, `node '${host}' of cluster '${cluster.id}': ${(result.reason as Error).message}`, {
        code: "node_failed",
      });
    });
  }

  /** The planning facts of `model` from the first node holding a readable config of it. */
  private modelOf(model: string, facts: NodeFacts[]) {
    const holder = facts.find((f) => f.config !== undefined);
    const planning = holder?.config && modelFactsOf(holder.config, holder.weightBytes);
    if (!holder || !planning) {
      throw new OpenAIError(404, `model '${model}' was not found on any node (no readable config.json)`, {
        code: "model_not_found",
        param: "model",
      });
    }
    return { bytes: holder.weightBytes, planning };
  }

  private viewOf(cluster: RingClusterRecord): RingClusterView {
    return {
      id: cluster.id,
      name: cluster.label,
      kind: "ring",
      models_dir: cluster.modelsDir,
      ithaca_command: cluster.ithacaCommand,
      prefill_deadline_s: cluster.prefillDeadlineS,
      decode_deadline_s: cluster.decodeDeadlineS,
      nodes: cluster.nodes.map((n) => ({ host: n.host, ssh: n.ssh, ip: n.ip, ssh_host_key: n.sshHostKey })),
      ssh_key_source: sshKeySource(cluster.sshKeyPath, this.env, "cluster"),
      created_at: cluster.createdAt,
      updated_at: cluster.updatedAt,
    };
  }
}

/** The part of a rank's engine counters its status shows (null when it did not answer). */
function engineView(stats: Record<string, unknown> | null | undefined): RankEngineView | null {
  if (!stats) return null;
  const memory = stats.memory as { active?: number; peak?: number } | undefined;
  const count = (value: unknown) => (typeof value === "number" ? value : null);
  return {
    active: count(stats.active),
    queued: count(stats.queued),
    completed: count(stats.completed),
    decode_steps: count(stats.decodeSteps),
    live_arrays: count(stats.liveArrays),
    memory_active_bytes: count(memory?.active),
    memory_peak_bytes: count(memory?.peak),
  };
}

/** What a load answers with, beside its own fields. */
function summaryOf(id: string, accepted: AcceptedLoad) {
  return {
    cluster: id,
    model: accepted.model,
    mode: accepted.plan.mode,
    nodes: accepted.nodes.map((node) => node.host),
  };
}

/**
 * The nodes a load runs on, in rank order.
 * @throws OpenAIError 400 `invalid_nodes`.
 */
function chosenNodes(cluster: RingClusterRecord, nodes: number | string[] | undefined): RingNode[] {
  const invalid = (message: string) => new OpenAIError(400, message, { code: "invalid_nodes", param: "nodes" });
  if (nodes === undefined) return cluster.nodes;
  if (typeof nodes === "number") {
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > cluster.nodes.length) {
      throw invalid(`nodes must be between 1 and ${cluster.nodes.length}, got ${nodes}`);
    }
    return cluster.nodes.slice(0, nodes);
  }
  if (new Set(nodes).size !== nodes.length) throw invalid("nodes lists a host twice");
  return nodes.map((host) => {
    const node = cluster.nodes.find((n) => n.host === host);
    if (!node) throw invalid(`cluster '${cluster.id}' has no node '${host}'`);
    return node;
  });
}
