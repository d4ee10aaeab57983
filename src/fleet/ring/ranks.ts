/**
 * The ranks of a loaded ring cluster, each an `ithaca rank` (src/cli/rank.ts) spawned over SSH on its node
 * (reference/odyssai-x-wire.md §6.1 "Start a runner"): its standard output read as JSON lines for the `ready` and
 * `error` events, its standard error kept (the last {@link STDERR_TAIL_BYTES}) for the reasons a load fails, and its
 * end watched — a rank that exits is reported at once, whether it was starting or serving.
 *
 * Stopping a rank closes its SSH channel (TERM sent first): the rank exits when its standard input closes. A rank that
 * lingers anyway is killed by {@link killCommand}, which matches the `--cluster <id>` on its command line.
 */
import type { SshEndpoint, SshPool } from "../ssh.ts";
import { shellPathWord } from "./node-facts.ts";

/** How long a rank may run (the SSH stream's own limit), in ms: 24 days, the most a timer takes. */
const RANK_MAX_MS = 2 ** 31 - 1;
/** The standard error kept of a rank, in bytes. */
export const STDERR_TAIL_BYTES = 4096;

/** What rank 0 says when it serves. */
export interface RankReady {
  rank: number;
  size: number;
  /** Where rank 0 serves HTTP (`http://ip:port`). */
  url: string;
  /** The model's id there. */
  model: string;
  load_s: number;
}

/** What a spawned rank needs. */
export interface RankSpec {
  rank: number;
  /** Its node's name, in errors. */
  host: string;
  endpoint: SshEndpoint;
  /** The node's ring/HTTP address. */
  ip: string;
  modelsDir: string;
  model: string;
  /** How the node runs Ithaca (`ithaca`, `/opt/ithaca/ithaca`, `bun /srv/ithaca/src/main.ts`). */
  ithacaCommand: string;
  clusterId: string;
  /** The API key rank 0 serves behind, and every rank's admin token (its engine counters for the status). */
  token: string;
  /** The ring hostfile's path on the node, when there is more than one rank. */
  hostfile?: string;
  mode: "pipeline" | "tensor";
  /** Pipeline: the layers `[start, end)` this rank computes (the preflight's budget-weighted split). */
  layers?: [number, number];
}

/**
 * The remote command of one rank: into the models directory, then `ithaca rank` with its environment. The command
 * words, paths and ids are validated by the API; the token is `[A-Za-z0-9_-]`.
 */
export function rankCommand(spec: RankSpec): string {
  const env = [
    `MLX_RANK=${spec.rank}`,
    `ITHACA_API_KEYS=${spec.token}`,
    `ITHACA_ADMIN_TOKEN=${spec.token}`,
    `ITHACA_HOME=/tmp/ithaca-ring-${spec.clusterId}-r${spec.rank}`,
    ...(spec.hostfile ? [`MLX_HOSTFILE=${spec.hostfile}`] : []),
  ];
  return (
    `cd ${shellPathWord(spec.modelsDir)} && exec env ${env.join(" ")} ${spec.ithacaCommand} rank ` +
    `--model ${shellPathWord(spec.modelsDir, spec.model)} --host ${spec.ip} --port 0 --mode ${spec.mode} ` +
    `${spec.layers ? `--layers ${spec.layers[0]}:${spec.layers[1]} ` : ""}--cluster ${spec.clusterId}`
  );
}

/** The command that kills whatever is left of a cluster's ranks on one node (`pkill -f` on `--cluster <id>`). */
export function killCommand(clusterId: string): string {
  return `pkill -KILL -f -- ' rank .*--cluster ${clusterId}$' ; exit 0`;
}

/** One rank running over SSH (see the module comment). */
export class RankProcess {
  /** `starting` until its `ready` event, `ready` while it serves, `exited` once its process ended. */
  phase: "starting" | "ready" | "exited" = "starting";
  /** Its `ready` event, once it came. */
  readyEvent: RankReady | undefined;
  /** Why it ended: its `error` event, the SSH failure, or how it exited. */
  exitReason: string | undefined;
  /** Resolves with its `ready` event; rejects with why it ended first. */
  readonly ready: Promise<RankReady>;
  /** Resolves when its process has ended, however. */
  readonly exited: Promise<void>;
  private readonly stop = new AbortController();
  private stopping = false;

  constructor(
    readonly spec: RankSpec,
    ssh: SshPool,
    onExit: (rank: RankProcess) => void,
  ) {
    let resolveReady!: (event: RankReady) => void;
    let rejectReady!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.exited = this.run(ssh, resolveReady).then(
      () => {
        this.exitReason ??= this.stopping ? "stopped" : "the rank exited";
      },
      (error: unknown) => {
        this.exitReason ??= error instanceof Error ? error.message : String(error);
      },
    );
    void this.exited.then(() => {
      this.phase = "exited";
      rejectReady(new Error(`rank ${spec.rank} on '${spec.host}': ${this.exitReason}`));
      if (!this.stopping) onExit(this);
    });
  }

  /** Stops the rank (its SSH channel closed); resolves when it has ended. */
  async close(): Promise<void> {
    this.stopping = true;
    this.stop.abort();
    await this.exited;
  }

  private async run(ssh: SshPool, resolveReady: (event: RankReady) => void): Promise<void> {
    let pending = "";
    for await (const text of ssh.stream(this.spec.endpoint, rankCommand(this.spec), {
      signal: this.stop.signal,
      maxMs: RANK_MAX_MS,
    })) {
      pending += text;
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        this.onLine(pending.slice(0, newline), resolveReady);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
      if (pending.length > 64 * 1024) pending = ""; // not the rank's JSON lines: dropped
    }
  }

  private onLine(line: string, resolveReady: (event: RankReady) => void): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // other output (a shell's greeting): not an event
    }
    if (event.event === "ready" && typeof event.url === "string" && typeof event.model === "string") {
      this.readyEvent = event as unknown as RankReady;
      this.phase = "ready";
      resolveReady(this.readyEvent);
    } else if (event.event === "error" && typeof event.message === "string") {
      this.exitReason = event.message.slice(0, 2000);
    }
  }
}
