/**
 * `ithaca rank`: one rank of a ring cluster (issue 17), spawned over SSH by the Ithaca that manages the cluster
 * (src/fleet/ring/ranks.ts). Rank 0 serves the model over HTTP with Ithaca's own app — the same generation loop,
 * sampling, stops, tool and thinking parsing and prefix cache as any local model — behind the API key
 * `ITHACA_API_KEYS` carries, and the managing Ithaca routes to it like any engine.
 *
 * Protocol (JSON lines on standard output, reference/odyssai-x-wire.md §6.3 in spirit):
 * - `{"event":"ready","rank":0,"size":N,"url":"http://ip:port","model":"<id>","load_s":…}` once it serves;
 * - `{"event":"error","rank":R,"message":"…"}` before exiting 1 when it cannot start.
 * It exits when its standard input closes (the SSH channel that spawned it went away), on SIGTERM and on SIGINT, so a
 * rank never outlives its manager.
 *
 * The world comes from `MLX_HOSTFILE` (`[["ip:port", …], …]` in rank order) and `MLX_RANK`; without a hostfile the
 * world is this one process. With several ranks every rank runs the same engine (src/engine/ring-sync.ts): rank 0
 * hears from clients and hands each step's messages to the others, which serve nothing themselves but their share of
 * every forward pass (`--mode pipeline|tensor`: src/engine/model/parallel.ts).
 */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { createApp } from "../app.ts";
import { loadConfig, parsePort } from "../config/load.ts";

/** The flags of `ithaca rank`. */
export interface RankOptions {
  model?: string;
  host?: string;
  port?: string;
  /** The ring cluster it belongs to: named in its events, and what its manager's clean-up matches. */
  cluster?: string;
  /** How the model is spread over the ranks: `pipeline` (default) or `tensor`. */
  mode?: string;
  /** Pipeline: `start:end`, the layers this rank computes (default: an even split). */
  layers?: string;
}

/** How long requests in flight may take to finish when the rank stops, in ms. */
const STOP_GRACE_MS = 1_000;
/** When a stopping rank exits whatever it is still waiting for, in ms. */
const STOP_DEADLINE_MS = 3_000;

/** One JSON line on standard output. */
function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** The number of ranks `MLX_HOSTFILE` lists (1 without one). @throws Error when it cannot be read as a hostfile. */
function worldSize(env: Record<string, string | undefined>): number {
  const path = env.MLX_HOSTFILE;
  if (!path) return 1;
  const hosts: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (!Array.isArray(hosts) || hosts.length === 0) throw new Error(`MLX_HOSTFILE ${path} lists no rank`);
  return hosts.length;
}

/**
 * Runs the rank until its standard input closes or a signal stops it.
 * @returns 1 when it cannot start (after an `error` event); otherwise never returns before the process exits.
 */
export async function rank(
  options: RankOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const rankNo = Number(env.MLX_RANK ?? 0);
  const started = performance.now();
  try {
    if (!options.model) throw new Error("--model is required");
    if (!env.ITHACA_API_KEYS) throw new Error("ITHACA_API_KEYS must carry the key rank 0 serves behind");
    const size = worldSize(env);
    const mode = options.mode ?? "pipeline";
    if (mode !== "pipeline" && mode !== "tensor") throw new Error(`--mode must be pipeline or tensor, got ${mode}`);
    // The engine Worker joins the ring when it loads the model (src/engine/worker.ts); expiring prefix cache entries
    // by time would tell the ranks apart, so they do not expire.
    if (size > 1) process.env.ITHACA_RING_MODE = mode;
    if (size > 1 && options.layers !== undefined) {
      if (!/^\d+:\d+$/.test(options.layers)) throw new Error(`--layers must be start:end, got ${options.layers}`);
      process.env.ITHACA_RING_LAYERS = options.layers;
    }
    // The model alone, with the environment's settings (ITHACA_API_KEYS, ITHACA_HOME…), never a configuration file.
    const config = await loadConfig({
      host: options.host,
      port: options.port === undefined ? 0 : parsePort(options.port, "--port"),
      model: resolve(options.model),
      env: { ...env, ITHACA_CONFIG: undefined },
      cwd: "/",
    });
    const ithaca = await createApp(config);
    ithaca.app.listen({ hostname: config.server.host, port: config.server.port });
    const url = `http://${config.server.host}:${ithaca.app.server?.port}`;
    emit({
      event: "ready",
      cluster: options.cluster ?? null,
      rank: rankNo,
      size,
      url,
      model: basename(resolve(options.model)),
      load_s: Math.round((performance.now() - started) / 10) / 100,
    });
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      // A rank whose engine waits in a collective for a dead peer never finishes closing: it exits anyway.
      setTimeout(() => process.exit(1), STOP_DEADLINE_MS).unref();
      ithaca.close(STOP_GRACE_MS).finally(() => process.exit(0));
    };
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    return await new Promise<number>(() => {});
  } catch (error) {
    emit({ event: "error", rank: rankNo, message: error instanceof Error ? error.message : String(error) });
    return 1;
  }
}
