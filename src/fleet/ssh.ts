/**
 * SSH to the fleet's hosts with `ssh2` (DESIGN §7; reference/odyssai-x-wire.md §6.1, improved: one connection per
 * host, reused, instead of one `ssh` process per command).
 *
 * - One connection per target and credential, opened on first use and shared by every call; closed after
 *   {@link SSH_IDLE_CLOSE_MS} without a command running, or when the server or a keepalive says it is gone.
 * - Host keys: a call names the fingerprint pinned for its engine and the handshake refuses any other key
 *   (`host_key_changed`, naming both fingerprints); a call with no pin accepts the key offered and reports it, for the
 *   caller to pin (first contact). Every result carries the connection's host key.
 * - Timeouts: the connection (TCP, handshake and authentication) within the connect timeout; every command within
 *   its own timeout, after which its channel is signalled and closed.
 * - Credentials: a private key file (read at each connect, unencrypted) and/or an SSH agent socket. A key's path is
 *   never part of an error.
 *
 * Commands are strings given to the remote user's shell: callers pass fixed strings or configured ones, never
 * request input. (ssh2's optional native crypto binding, built by its install script, is not needed: ssh2 falls back
 * to Node's crypto, which Bun provides.)
 */
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { SshError } from "./ssh-errors.ts";
import {
  connectError,
  describeTarget,
  hostKeyChanged,
  hostKeyFingerprint,
  parseSshTarget,
  readCredentials,
  type SshEndpoint,
  type SshTarget,
} from "./ssh-target.ts";

export type { SshEndpoint } from "./ssh-target.ts";

/** Deadline of a connection (TCP, SSH handshake, authentication), in ms. */
export const SSH_CONNECT_TIMEOUT_MS = 5_000;
/** A connection with no command running is closed after this many ms. */
export const SSH_IDLE_CLOSE_MS = 60_000;
/** Keepalive interval, in ms; three unanswered keepalives close the connection. */
export const SSH_KEEPALIVE_MS = 10_000;
/** Output kept of each of a command's streams, in bytes; the rest is dropped (`truncated`). */
export const SSH_OUTPUT_LIMIT_BYTES = 1024 * 1024;

/** What every call reports about its connection. */
export interface SshContact {
  /** Fingerprint of the host key the server offered (`SHA256:…`). */
  hostKey: string;
  /** Whether a connection already open was used. */
  reused: boolean;
  /** From the call to its end (the connection included when one was opened), in ms. */
  elapsedMs: number;
}

/** A finished command. */
export interface ExecResult extends SshContact {
  /** Exit status; null when it ended by a signal or without a status. */
  rc: number | null;
  /** The signal that ended it, if any (`TERM`...). */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Whether either stream was longer than the limit and cut. */
  truncated: boolean;
}

interface Connection {
  client: Client;
  ready: Promise<void>;
  /** The offered host key, once the handshake saw it. */
  hostKey: string | null;
  /** Commands running on it. */
  active: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  closed: boolean;
}

/** Options of an {@link SshPool}; every duration in ms. */
export interface SshPoolOptions {
  connectTimeoutMs?: number;
  idleCloseMs?: number;
  keepaliveMs?: number;
}

/** The connections to the fleet's hosts (see the module comment). */
export class SshPool {
  private readonly connections = new Map<string, Connection>();
  private readonly connectTimeoutMs: number;
  private readonly idleCloseMs: number;
  private readonly keepaliveMs: number;

  constructor(options: SshPoolOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? SSH_CONNECT_TIMEOUT_MS;
    this.idleCloseMs = options.idleCloseMs ?? SSH_IDLE_CLOSE_MS;
    this.keepaliveMs = options.keepaliveMs ?? SSH_KEEPALIVE_MS;
  }

  /** Connections open or opening now. */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Connects (or reuses the connection) and authenticates, running nothing.
   * @throws SshError (`invalid_target`, `unreachable`, `connect_timeout`, `auth_failed`, `key_unusable`,
   *   `host_key_changed`); on `auth_failed` its `hostKeys.offered` is the key the server offered.
   */
  async contact(endpoint: SshEndpoint): Promise<SshContact> {
    const started = performance.now();
    const { connection, reused } = await this.acquire(endpoint);
    this.release(connection);
    return { hostKey: connection.hostKey as string, reused, elapsedMs: performance.now() - started };
  }

  /**
   * Runs `command` and waits for its end; a reused connection found dead is replaced once.
   * @param timeoutMs the command's deadline (the connection's own comes first).
   * @throws SshError as {@link contact}, `command_timeout` after `timeoutMs`, `failed` when the channel cannot be
   *   opened or the connection drops.
   */
  async exec(endpoint: SshEndpoint, command: string, timeoutMs: number): Promise<ExecResult> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const { connection, reused } = await this.acquire(endpoint);
      try {
        const result = await this.run(connection, endpoint.name, command, timeoutMs);
        return { ...result, hostKey: connection.hostKey as string, reused, elapsedMs: performance.now() - started };
      } catch (error) {
        if (!(reused && connection.closed && attempt === 0 && isKind(error, "failed"))) throw error;
      } finally {
        this.release(connection);
      }
    }
  }

  /**
   * Runs a command that may never end (`tail -F`) and yields its standard output as text, as it comes. It ends when
   * the command ends, when `signal` aborts, after `maxMs`, or when the consumer stops; its channel is then closed.
   * @throws SshError as {@link contact} before the first chunk; `failed` when the channel cannot be opened, or when
   *   the command ends by itself with a non-zero status (its standard error, up to 400 characters, in the message).
   */
  async *stream(endpoint: SshEndpoint, command: string, options: { signal?: AbortSignal; maxMs: number }) {
    const { connection } = await this.acquire(endpoint);
    let channel: ClientChannel | undefined;
    const queue: string[] = [];
    let ended = false;
    let failure: SshError | undefined;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const stop = () => {
      ended = true;
      hangUp(channel, "TERM");
      notify();
    };
    const deadline = setTimeout(stop, options.maxMs);
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      channel = await openChannel(connection, endpoint.name, command);
      if (ended) hangUp(channel, "TERM");
      const decoder = new TextDecoder();
      let stderr = "";
      let rc: number | null = null;
      channel.on("data", (chunk: Buffer) => {
        queue.push(decoder.decode(chunk, { stream: true }));
        notify();
      });
      channel.stderr.on("data", (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString("utf8");
      });
      channel.on("exit", (code: number | null) => {
        rc = code;
      });
      channel.on("close", () => {
        if (!ended && rc !== null && rc !== 0) {
          failure = new SshError("failed", `engine '${endpoint.name}': the command exited ${rc}: ${excerpt(stderr)}`);
        }
        ended = true;
        notify();
      });
      while (true) {
        const text = queue.shift();
        if (text !== undefined) {
          if (text !== "") yield text;
          continue;
        }
        if (ended) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      if (failure) throw failure;
    } finally {
      clearTimeout(deadline);
      options.signal?.removeEventListener("abort", stop);
      ended = true;
      hangUp(channel, "TERM");
      this.release(connection);
    }
  }

  /** Closes every connection now (at shutdown). */
  close(): void {
    for (const connection of this.connections.values()) {
      clearTimeout(connection.idleTimer);
      connection.closed = true;
      connection.client.end();
    }
    this.connections.clear();
  }

  /** The connection for `endpoint`, opened if needed, counted as in use until {@link release}. */
  private async acquire(endpoint: SshEndpoint): Promise<{ connection: Connection; reused: boolean }> {
    const target = parseSshTarget(endpoint.target, endpoint.name);
    const credentials = readCredentials(endpoint);
    const key = `${target.user}@${describeTarget(target)}|${endpoint.keyPath ?? ""}|${endpoint.agent ?? ""}`;
    let connection = this.connections.get(key);
    const reused = connection !== undefined && !connection.closed;
    if (!connection || connection.closed) {
      connection = this.open(key, target, credentials, endpoint);
      this.connections.set(key, connection);
    }
    connection.active++;
    clearTimeout(connection.idleTimer);
    try {
      await connection.ready;
    } catch (error) {
      connection.active--;
      throw error;
    }
    if (endpoint.hostKey !== null && connection.hostKey !== endpoint.hostKey) {
      // Opened for another engine with another pin (or none): this engine's pin decides.
      this.release(connection);
      throw hostKeyChanged(endpoint, target, connection.hostKey);
    }
    return { connection, reused };
  }

  /** Ends a use of `connection`; the last one starts its idle timer. */
  private release(connection: Connection): void {
    connection.active = Math.max(0, connection.active - 1);
    if (connection.active > 0 || connection.closed) return;
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => {
      if (connection.active === 0) connection.client.end();
    }, this.idleCloseMs);
    connection.idleTimer.unref?.();
  }

  /** Opens a connection; it leaves the pool when it closes. */
  private open(
    key: string,
    target: SshTarget,
    credentials: Pick<ConnectConfig, "privateKey" | "agent">,
    endpoint: SshEndpoint,
  ): Connection {
    const client = new Client();
    const connection: Connection = { client, ready: Promise.resolve(), hostKey: null, active: 0, closed: false };
    let refused: string | null = null;
    let ready = false;
    const forget = () => {
      connection.closed = true;
      clearTimeout(connection.idleTimer);
      if (this.connections.get(key) === connection) this.connections.delete(key);
    };
    connection.ready = new Promise<void>((resolve, reject) => {
      client.once("ready", () => {
        ready = true;
        resolve();
      });
      client.on("error", (error: Error & { level?: string }) => {
        if (ready) return; // The connection closes next; calls on it fail and a new one is opened.
        forget(); // A connection that failed to open is never lent again, even before it has closed.
        reject(connectError(error, endpoint, target, connection.hostKey, refused, this.connectTimeoutMs, credentials));
      });
      client.once("close", () => {
        forget();
        reject(new SshError("unreachable", `engine '${endpoint.name}': SSH to ${describeTarget(target)} closed`));
      });
    });
    connection.ready.catch(() => {}); // Awaited by acquire(); this only keeps a rejection from going unhandled.
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        ...credentials,
        readyTimeout: this.connectTimeoutMs,
        keepaliveInterval: this.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (keyBlob: Buffer) => {
          connection.hostKey = hostKeyFingerprint(keyBlob);
          if (endpoint.hostKey !== null && connection.hostKey !== endpoint.hostKey) refused = connection.hostKey;
          return refused === null;
        },
      });
    } catch (error) {
      client.emit("error", error);
    }
    return connection;
  }

  /** Runs one command on an open connection (see {@link exec}). */
  private run(
    connection: Connection,
    name: string,
    command: string,
    timeoutMs: number,
  ): Promise<Omit<ExecResult, keyof SshContact>> {
    return new Promise((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        hangUp(channel, "KILL");
        reject(new SshError("command_timeout", `engine '${name}': the SSH command did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      openChannel(connection, name, command).then(
        (opened) => {
          channel = opened;
          if (done) return opened.close();
          const stdout = new Capture();
          const stderr = new Capture();
          let rc: number | null = null;
          let signal: string | null = null;
          opened.on("data", (chunk: Buffer) => stdout.add(chunk));
          opened.stderr.on("data", (chunk: Buffer) => stderr.add(chunk));
          opened.on("exit", (code: number | null, signalName?: string) => {
            rc = typeof code === "number" ? code : null;
            signal = signalName ?? null;
          });
          opened.on("close", () => {
            clearTimeout(timer);
            if (done) return;
            done = true;
            if (rc === null && signal === null && connection.closed) {
              reject(new SshError("failed", `engine '${name}': the SSH connection dropped while the command ran`));
              return;
            }
            const truncated = stdout.truncated || stderr.truncated;
            resolve({ rc, signal, stdout: stdout.text(), stderr: stderr.text(), truncated });
          });
        },
        (error) => {
          clearTimeout(timer);
          if (!done) reject(error);
          done = true;
        },
      );
    });
  }
}

/**
 * Signals a channel's command, then closes the channel. OpenSSH honours the signal for a user whose session runs in
 * its privilege-separated child, and ignores it for root (whose session the monitor serves): there the command lives
 * on until it writes to the closed channel or ends (GNU `tail -F` notices its reader is gone and exits).
 */
function hangUp(channel: ClientChannel | undefined, signal: "TERM" | "KILL"): void {
  if (!channel) return;
  try {
    channel.signal(signal);
  } catch {
    // The channel is gone already.
  }
  channel.close();
}

/** Opens a session channel running `command`. @throws SshError `failed`. */
function openChannel(connection: Connection, name: string, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) =>
      reject(new SshError("failed", `engine '${name}': SSH channel failed: ${(error as Error).message}`));
    try {
      connection.client.exec(command, (error, channel) => (error ? fail(error) : resolve(channel)));
    } catch (error) {
      connection.closed = true;
      fail(error);
    }
  });
}

/** A stream's output, kept up to {@link SSH_OUTPUT_LIMIT_BYTES}. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  add(chunk: Buffer): void {
    const room = SSH_OUTPUT_LIMIT_BYTES - this.bytes;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.bytes += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** The first 400 characters of `text`, trimmed. */
export function excerpt(text: string): string {
  return text.trim().slice(0, 400);
}

const isKind = (error: unknown, kind: SshError["kind"]) => error instanceof SshError && error.kind === kind;
