/**
 * The configuration of MLX's ring backend (TCP; `mlx/distributed/ring/ring.cpp`): its hostfile, and the two
 * environment variables through which `mlx_distributed_init` finds it.
 *
 * - `MLX_HOSTFILE`: path of a JSON file `[["ip:port", …], …]`, one entry per rank in rank order. Each entry lists the
 *   addresses that rank listens on, one TCP connection per address to each neighbour; every rank must list the same
 *   number. Rank r accepts its left neighbour (r−1 mod N) on its own addresses and connects to those of its right
 *   neighbour (r+1 mod N).
 * - `MLX_RANK`: this process's rank, a decimal integer in `0..N-1`.
 *
 * MLX reads both with the C `getenv`, so a rank gets them either in its environment at spawn ({@link ringEnv}, the
 * simple way) or through `setenv` before init ({@link setRingEnvironment}). MLX itself checks little: an empty
 * hostfile kills the process (SIGFPE, a division by zero), `MLX_RANK=abc` silently means rank 0, a negative rank
 * indexes out of bounds, a one-rank ring retries connecting to itself for about 31 s, and a missing file reads as
 * "attempting to parse an empty input". So {@link validateRingConfig} checks all of this first and names the file and
 * the entry at fault.
 */
import { readFileSync } from "node:fs";
import { nativeEnv, setNativeEnv } from "./environ.ts";

/** A ring hostfile's content: `nodes[rank]` lists the `"host:port"` addresses rank `rank` listens on. */
export type RingHostfile = string[][];

/** A validated ring configuration: the hostfile's path and nodes, and this process's rank. */
export interface RingConfig {
  hostfile: string;
  nodes: RingHostfile;
  rank: number;
}

/**
 * Checks that `value` is a ring hostfile: an array of ≥ 2 ranks, each a non-empty array of `"host:port"` strings
 * (host non-empty, no other `:`; port an integer 1..65535), every rank with the same number of addresses.
 * @param where names the source in error messages (e.g. the file path).
 * @throws Error saying which entry is wrong and why.
 */
export function checkRingHostfile(value: unknown, where = "hostfile"): RingHostfile {
  const bad = (msg: string) => new Error(`ring ${where}: ${msg}; expected [["ip:port", …], …], one entry per rank`);
  if (!Array.isArray(value)) throw bad("not a JSON array");
  if (value.length < 2) throw bad(`${value.length} rank(s); a ring needs at least 2 (one process needs no ring)`);
  const width = Array.isArray(value[0]) ? value[0].length : 0;
  value.forEach((entry: unknown, rank) => {
    if (!Array.isArray(entry) || entry.length === 0) throw bad(`rank ${rank} is not a non-empty array of addresses`);
    if (entry.length !== width) {
      throw bad(`rank ${rank} has ${entry.length} address(es) but rank 0 has ${width}; the ring needs equal counts`);
    }
    for (const address of entry) {
      const m = typeof address === "string" ? /^([^:]+):(\d{1,5})$/.exec(address) : null;
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw bad(`rank ${rank}: ${JSON.stringify(address)} is not "host:port" with a port in 1..65535`);
      }
    }
  });
  return value as RingHostfile;
}

/** The hostfile's JSON text for `nodes`. @throws Error as {@link checkRingHostfile}. */
export function formatRingHostfile(nodes: RingHostfile): string {
  return `${JSON.stringify(checkRingHostfile(nodes))}\n`;
}

/**
 * Reads and checks the hostfile at `hostfile` and that `rank` is a rank of it.
 * @param rank an integer, or the `MLX_RANK` string (decimal digits only).
 * @throws Error naming the file when it is unreadable or not JSON, the entry at fault ({@link checkRingHostfile}),
 *   or the rank when it is not an integer in `0..N-1`.
 */
export function validateRingConfig(hostfile: string, rank: number | string): RingConfig {
  let text: string;
  try {
    text = readFileSync(hostfile, "utf8");
  } catch (err) {
    throw new Error(`ring hostfile ${hostfile}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`ring hostfile ${hostfile}: not JSON: ${(err as Error).message}`);
  }
  const nodes = checkRingHostfile(json, `hostfile ${hostfile}`);
  const r = typeof rank === "string" && /^\d+$/.test(rank) ? Number(rank) : rank;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 0 || r >= nodes.length) {
    throw new Error(
      `ring rank ${JSON.stringify(rank)} is not an integer in 0..${nodes.length - 1} (hostfile ${hostfile})`,
    );
  }
  return { hostfile, nodes, rank: r };
}

/** The environment a rank process needs at spawn: `Bun.spawn(cmd, { env: { ...process.env, ...ringEnv(f, r) } })`. */
export function ringEnv(hostfile: string, rank: number): { MLX_HOSTFILE: string; MLX_RANK: string } {
  return { MLX_HOSTFILE: hostfile, MLX_RANK: String(rank) };
}

/**
 * The ring configuration in this process's C environment (`MLX_HOSTFILE` and `MLX_RANK` as MLX will read them),
 * checked; `null` when either is unset (MLX's ring then does not start: a size-1 group, or an error when strict).
 * @throws Error as {@link validateRingConfig}.
 */
export function ringConfigFromEnvironment(): RingConfig | null {
  const hostfile = nativeEnv("MLX_HOSTFILE");
  const rank = nativeEnv("MLX_RANK");
  if (hostfile === undefined || rank === undefined) return null;
  return validateRingConfig(hostfile, rank);
}

/**
 * Checks `hostfile` and `rank` ({@link validateRingConfig}) and sets `MLX_HOSTFILE`/`MLX_RANK` in this process's C
 * environment with `setenv`, for a rank that was not spawned with them. Call before the ring's first init: MLX caches
 * the group per backend, so later changes have no effect.
 * @throws Error as {@link validateRingConfig}.
 */
export function setRingEnvironment(hostfile: string, rank: number): RingConfig {
  const config = validateRingConfig(hostfile, rank);
  for (const [name, value] of Object.entries(ringEnv(hostfile, rank))) setNativeEnv(name, value);
  return config;
}
