/**
 * One load of a ring cluster, from spawn to unload (reference/odyssai-x-wire.md §6.4 "Start"): with more than one
 * rank the ring hostfile (`[["ip:port"], …]` in rank order, ports drawn from 49152–65535) is written on every node;
 * every rank is spawned over SSH (./ranks.ts), rank 0 first; the load waits for rank 0's `ready` within a deadline
 * while watching every rank for death; rank 0 then joins the backend registry as an engine of kind `ithaca` (its
 * HTTP behind a key drawn for this load), so its model is in the catalog as `<cluster>:<model>`.
 *
 * A rank that dies while the model is served makes the cluster `degraded`: the other ranks are stopped (a rank 0
 * blocked in a collective with a dead peer would never answer) and what is left of them killed on every node, rank
 * 0's backend leaves the registry, requests in flight end with a 502 naming the upstream, and the reason is kept for
 * the status until `reset` or a new load. So does the watchdog (odyssai-x-wire §6.4 "Generation watchdog"): rank 0's
 * backend carries the cluster's deadlines — `prefill_deadline_s` to the first byte, `decode_deadline_s` between two
 * chunks of a stream — and a missed one (a 504 to the client) degrades the cluster the same way.
 */
import { randomBytes } from "node:crypto";
import { upstreamBackendId } from "../../backends/http/http-backend.ts";
import { createOpenAIHttpBackend } from "../../backends/openai/backend.ts";
import type { UpstreamFailure } from "../../backends/http/upstream-client.ts";
import type { BackendRegistry } from "../../backends/registry.ts";
import { resolveUpstream } from "../../config/load.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { RingClusterRecord, RingNode } from "../../store/ring-clusters.ts";
import type { SshEndpoint, SshPool } from "../ssh.ts";
import type { RingPlan } from "./plan.ts";
import { killCommand, RankProcess, type RankReady } from "./ranks.ts";

/** How long a load waits for rank 0's `ready`, in ms (odyssai-x-wire §6.4: 600 s). */
export const READY_TIMEOUT_MS = 600_000;
/** Deadline of one rank's engine counters for the status, in ms. */
const RANK_STATS_TIMEOUT_MS = 2_000;
/** Deadline of the clean-up after a failure on one node, in ms. */
const SWEEP_TIMEOUT_MS = 15_000;
/** Deadline of writing the hostfile on one node, in ms. */
const HOSTFILE_TIMEOUT_MS = 15_000;

/** Where a load stands. */
export type RingLoadState = "loading" | "loaded" | "degraded";

/** What a load needs. */
export interface RingLoadSpec {
  cluster: RingClusterRecord;
  model: string;
  plan: RingPlan;
  /** Rank order. */
  nodes: RingNode[];
  endpoint: (node: RingNode) => SshEndpoint;
  /** Draws a rank's ring port; absent: {@link randomRingPort}. */
  drawPort?: () => number;
}

/** The ring hostfile's path on every node of a cluster. */
export function hostfilePath(clusterId: string): string {
  return `/tmp/ithaca-ring-${clusterId}.json`;
}

/** Loads tried with freshly drawn ring ports when a node could not bind the one it got. */
const PORT_ATTEMPTS = 3;
/** MLX's ring backend failing to bind its port (EADDRINUSE, errno 98 on Linux, 48 on macOS). */
const PORT_IN_USE = /Couldn't bind socket \(error: (98|48)\)/;

/** A port drawn at random from 49152–65535. */
export function randomRingPort(): number {
  return 49152 + (randomBytes(2).readUInt16BE() % 16384);
}

/** The ring hostfile of `nodes` (rank order), each rank on a port from `drawPort`. */
export function ringHostfile(nodes: readonly RingNode[], drawPort: () => number = randomRingPort): string[][] {
  return nodes.map((node) => [`${node.ip.includes(":") ? `[${node.ip}]` : node.ip}:${drawPort()}`]);
}

/** One load of a cluster (see the module comment). */
export class RingLoad {
  state: RingLoadState = "loading";
  /** Why it is degraded, or why the load failed. */
  reason: string | undefined;
  readonly ranks: RankProcess[] = [];
  /** Rank 0's `ready` event, once loaded. */
  served: RankReady | undefined;
  /** The key drawn for this load: rank 0's API key and every rank's admin token. */
  #token = "";
  /** The sweep of a failure ({@link fail}) while it runs: a new attempt waits for it, or it would kill the new ranks. */
  #failing: Promise<void> | undefined;
  private readonly backendId: string;

  constructor(
    readonly spec: RingLoadSpec,
    private readonly ssh: SshPool,
    private readonly registry: BackendRegistry,
  ) {
    this.backendId = upstreamBackendId(spec.cluster.id);
  }

  /**
   * Spawns the ranks and waits for rank 0 to serve, then puts it in the registry (`loaded`).
   * @throws OpenAIError 502 `load_failed` naming the rank, its node and why (its error event, its standard error or
   *   the deadline), every rank stopped and the load `degraded` with that reason; an SSH failure writing the hostfile.
   */
  async start(readyTimeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.spawn(readyTimeoutMs);
          return;
        } catch (error) {
          // A drawn port already in use on a node (another socket holds it, or one in TIME_WAIT): draw new ports.
          if (attempt >= PORT_ATTEMPTS || !PORT_IN_USE.test(this.reason ?? "")) throw error;
          console.warn(`[ithaca] ring cluster '${this.spec.cluster.id}': a ring port was in use; drawing new ports`);
          await this.#failing;
          this.#failing = undefined;
          this.ranks.length = 0;
          this.state = "loading";
          this.reason = undefined;
        }
      }
    } catch (error) {
      if (this.state === "loading") {
        this.state = "degraded";
        this.reason = error instanceof Error ? error.message : String(error);
      }
      throw error;
    }
  }

  /**
   * Stops every rank and takes rank 0 out of the registry: an unload lets the requests in flight finish first
   * (`drain`); a failure ends them at once, as the ranks go (a rank waiting for a dead peer never answers).
   */
  async stop(drain = true): Promise<void> {
    const leave = async () => {
      if (this.registry.get(this.backendId)) await this.registry.remove(this.backendId);
    };
    if (drain) await leave();
    await Promise.all(this.ranks.map((rank) => rank.close()));
    if (!drain) await leave();
  }

  private async spawn(readyTimeoutMs: number): Promise<void> {
    const { cluster, nodes } = this.spec;
    const token = randomBytes(24).toString("base64url");
    this.#token = token;
    const hostfile = nodes.length > 1 ? JSON.stringify(ringHostfile(nodes, this.spec.drawPort)) : undefined;
    if (hostfile) {
      await Promise.all(
        nodes.map((node) =>
          this.ssh.exec(
            this.spec.endpoint(node),
            `umask 077 && printf '%s' '${hostfile}' > ${hostfilePath(cluster.id)}`,
            HOSTFILE_TIMEOUT_MS,
          ),
        ),
      );
    }
    for (const [rank, node] of nodes.entries()) {
      const spec = {
        rank,
        host: node.host,
        endpoint: this.spec.endpoint(node),
        ip: node.ip,
        modelsDir: cluster.modelsDir,
        model: this.spec.model,
        ithacaCommand: cluster.ithacaCommand,
        clusterId: cluster.id,
        token,
        mode: this.spec.plan.mode,
        ...(this.spec.plan.mode === "pipeline" && nodes.length > 1
          ? { layers: this.spec.plan.ranks[rank]?.layers }
          : {}),
        ...(hostfile ? { hostfile: hostfilePath(cluster.id) } : {}),
      };
      this.ranks.push(new RankProcess(spec, this.ssh, (dead) => void this.degrade(dead)));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`rank 0 was not ready within ${Math.round(readyTimeoutMs / 1000)} s`)),
        readyTimeoutMs,
      );
    });
    const anyDeath = Promise.race(this.ranks.map((rank) => rank.exited.then(() => Promise.reject(rank))));
    try {
      this.served = await Promise.race([(this.ranks[0] as RankProcess).ready, deadline, anyDeath]);
    } catch (failure) {
      this.state = "degraded";
      await this.stop();
      // Every rank has gone now. A rank that could not bind its port is named first: the others only saw their peer
      // go (whichever went first), and the bind failure is what a new draw of ports can cure.
      const unbound = this.ranks.find((rank) => PORT_IN_USE.test(rank.exitReason ?? ""));
      const failed = unbound ?? (failure instanceof RankProcess ? failure : undefined);
      const why = failed
        ? `rank ${failed.spec.rank} on '${failed.spec.host}': ${failed.exitReason}`
        : (failure as Error).message;
      this.reason = why;
      throw new OpenAIError(502, `cluster '${cluster.id}' could not load '${this.spec.model}': ${why}`, {
        code: "load_failed",
      });
    } finally {
      clearTimeout(timer);
    }
    const upstream = resolveUpstream(
      {
        id: cluster.id,
        kind: "openai-http",
        engine: "ithaca",
        label: cluster.label,
        base_url: `${this.served.url}/v1`,
        // The watchdog's deadlines; a missed one is the upstream's 504, and degrades the cluster.
        timeout_ms: { first_byte: cluster.prefillDeadlineS * 1000, idle: cluster.decodeDeadlineS * 1000 },
        retry: { attempts: 1 },
      },
      {},
    );
    const watchdog = (failure: UpstreamFailure) => {
      if (failure === "timeout") void this.fail("no token within the watchdog's deadline: rank 0 stalled");
    };
    this.registry.add(createOpenAIHttpBackend({ ...upstream, api_key: token }, watchdog));
    this.state = "loaded";
  }

  /**
   * Each rank's engine counters (`/admin/models/{id}/stats` of its own server: MLX memory, arrays alive, requests,
   * decode steps), or null for a rank that is not serving or does not answer within {@link RANK_STATS_TIMEOUT_MS}.
   */
  async rankStats(): Promise<Array<Record<string, unknown> | null>> {
    return Promise.all(
      this.ranks.map(async (rank) => {
        const ready = rank.readyEvent;
        if (rank.phase !== "ready" || !ready) return null;
        try {
          const response = await fetch(`${ready.url}/admin/models/${encodeURIComponent(ready.model)}/stats`, {
            headers: { authorization: `Bearer ${this.#token}` },
            signal: AbortSignal.timeout(RANK_STATS_TIMEOUT_MS),
          });
          return response.ok ? ((await response.json()) as Record<string, unknown>) : null;
        } catch {
          return null;
        }
      }),
    );
  }

  /** A rank died while serving (or loading). */
  private degrade(dead: RankProcess): Promise<void> {
    return this.fail(`rank ${dead.spec.rank} on '${dead.spec.host}' exited: ${dead.exitReason}`);
  }

  /** The cluster is degraded: every rank stopped, rank 0 out of the registry, `why` kept. */
  private fail(why: string): Promise<void> {
    if (this.state === "degraded") return this.#failing ?? Promise.resolve();
    if (this.state === "loaded") console.warn(`[ithaca] ring cluster '${this.spec.cluster.id}' degraded: ${why}`);
    this.state = "degraded";
    this.reason = why;
    this.#failing = this.sweep();
    return this.#failing;
  }

  /** Stops every rank, then kills what is left of them on every node. */
  private async sweep(): Promise<void> {
    await this.stop(false);
    // A stalled rank ignores its closed channel: what is left of the ranks is killed on every node.
    await Promise.allSettled(
      this.spec.nodes.map((node) =>
        this.ssh.exec(this.spec.endpoint(node), killCommand(this.spec.cluster.id), SWEEP_TIMEOUT_MS),
      ),
    );
  }
}
