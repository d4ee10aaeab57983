/**
 * Managing an enrolled engine's host over SSH (DESIGN §7; reference/odyssai-x-wire.md §3.4, §6.1), through the
 * connection pool of ./ssh.ts:
 *
 * - connection test: `hostname` and the host's memory (`sysctl -n hw.memsize` on macOS, `/proc/meminfo` on Linux),
 *   with the round trip's latency;
 * - a Telemak's app through `launchctl`, exactly as §3.4 says (the launchd agent `eu.odyssai.telemak`);
 * - a Linux host's service through the `start`, `stop` and `status` commands configured at enrolment;
 * - the engine's log, tailed or followed (./ssh-logs.ts).
 *
 * The first contact with a host whose key is not pinned yet pins it. Every failure is an OpenAIError naming the
 * engine: 502 unreachable, authentication refused or host key changed; 504 a connect or command timeout; 409 when
 * the engine has no SSH target, or not what the action needs. Commands are the fixed strings below or the ones
 * configured at enrolment; nothing from a request reaches a command but validated integers.
 */
import { OpenAIError } from "../protocol/errors.ts";
import type { EngineKind, SshCommands } from "../store/engines.ts";
import { type ExecResult, excerpt, type SshEndpoint, type SshPool } from "./ssh.ts";
import { type LogLine, LogLineSplitter, tailCommand } from "./ssh-logs.ts";
import { SshError, sshErrorStatus } from "./ssh-errors.ts";

/** Deadline of the connection test's command, in ms. */
export const CONNECTION_TEST_TIMEOUT_MS = 10_000;
/** Deadline of a `launchctl` call or a configured service command, in ms. */
export const SERVICE_COMMAND_TIMEOUT_MS = 30_000;
/** Deadline of a log tail (not followed), in ms. */
export const LOG_TAIL_TIMEOUT_MS = 15_000;
/** A followed log ends after this many ms (the client reconnects). */
export const LOG_FOLLOW_MAX_MS = 60 * 60_000;

/** The launchd agent of a Telemak's app (odyssai-x-wire §3.4). */
export const TELEMAK_AGENT = "eu.odyssai.telemak";

/** Actions on a Telemak's app. */
export const LIFECYCLE_ACTIONS = ["start", "stop", "restart", "quit"] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

/**
 * The `launchctl` command of each action (odyssai-x-wire §3.4), run by the remote user's shell, which expands
 * `$(id -u)` and `~`: start bootstraps the agent's plist into the user's GUI domain, falling back to `kickstart` when
 * it is loaded already; stop sends SIGTERM (launchd's KeepAlive starts it again); restart is `kickstart -k`; quit is
 * `bootout`.
 */
export const LAUNCHCTL_COMMANDS: Readonly<Record<LifecycleAction, string>> = {
  start:
    `launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/${TELEMAK_AGENT}.plist` +
    ` || launchctl kickstart gui/$(id -u)/${TELEMAK_AGENT}`,
  stop: `launchctl kill SIGTERM gui/$(id -u)/${TELEMAK_AGENT}`,
  restart: `launchctl kickstart -k gui/$(id -u)/${TELEMAK_AGENT}`,
  quit: `launchctl bootout gui/$(id -u)/${TELEMAK_AGENT}`,
};

/** Actions on a Linux host's service (commands configured at enrolment; a non-zero `status`: not running). */
export const SERVICE_ACTIONS = ["start", "stop", "status"] as const;
export type ServiceAction = (typeof SERVICE_ACTIONS)[number];

/** `hostname`, then the memory in bytes: macOS's sysctl, else Linux's MemTotal (kB). */
export const CONNECTION_TEST_COMMAND =
  "hostname && (sysctl -n hw.memsize 2>/dev/null || awk '/^MemTotal:/ {printf \"%.0f\\n\", $2 * 1024}' /proc/meminfo)";

/** An engine with an SSH target, as the operations need it (from ./enrolment.ts). */
export interface SshEngine {
  id: string;
  kind: EngineKind;
  /** Where and how to log in, and the pinned host key. */
  endpoint: SshEndpoint;
  commands: SshCommands | null;
  /** The log to tail (the kind's default applied), or null. */
  logPath: string | null;
}

/** Where the operations find engines, and where a first contact pins a host key. */
export interface SshEngines {
  /** @throws OpenAIError 404 `engine_not_found`, 409 `ssh_not_configured`. */
  sshEngine(id: string): SshEngine;
  pinHostKey(id: string, target: string, fingerprint: string): void;
}

/** The connection test's answer. */
export interface ConnectionTest {
  cluster: string;
  ok: true;
  ssh: string;
  /** The command's round trip, the connection included when one was opened, in ms. */
  latency_ms: number;
  /** Whether a connection already open was used. */
  reused: boolean;
  hostname: string;
  memory_bytes: number | null;
  ram_gb: number | null;
  /** The host key's fingerprint (the pinned one). */
  host_key: string;
}

/** The answer of a lifecycle or service action (odyssai-x-wire §3.4: the first 400 characters of each stream). */
export interface CommandAnswer {
  cluster: string;
  action: string;
  ok: boolean;
  rc: number | null;
  ssh: string;
  stdout: string;
  stderr: string;
}

/** A log's tail. */
export interface LogTail {
  cluster: string;
  path: string;
  data: LogLine[];
  /** What `tail` said on its standard error (a file it could not read), or null. */
  stderr: string | null;
  truncated: boolean;
}

/** The SSH operations on the fleet's engines (see the module comment). */
export class SshOps {
  constructor(
    private readonly engines: SshEngines,
    private readonly pool: SshPool,
  ) {}

  /** @throws OpenAIError as the module comment says; 502 `ssh_failed` when the command fails. */
  async connectionTest(id: string): Promise<ConnectionTest> {
    const engine = this.engines.sshEngine(id);
    const result = await this.exec(engine, CONNECTION_TEST_COMMAND, CONNECTION_TEST_TIMEOUT_MS);
    const [hostname = "", memory = ""] = result.stdout.trim().split("\n");
    if (result.rc !== 0 || hostname === "") {
      throw new OpenAIError(
        502,
        `engine '${id}': the connection test failed (rc ${result.rc}): ${excerpt(result.stderr)}`,
        {
          code: "ssh_failed",
        },
      );
    }
    const bytes = /^\d+$/.test(memory.trim()) ? Number(memory.trim()) : null;
    return {
      cluster: id,
      ok: true,
      ssh: engine.endpoint.target,
      latency_ms: Math.round(result.elapsedMs * 10) / 10,
      reused: result.reused,
      hostname: hostname.trim(),
      memory_bytes: bytes,
      ram_gb: bytes === null ? null : Math.round((bytes / 1024 ** 3) * 10) / 10,
      host_key: result.hostKey,
    };
  }

  /** Runs `launchctl` for `action`. @throws OpenAIError as the module comment says; 409 `not_a_telemak`. */
  async lifecycle(id: string, action: LifecycleAction): Promise<CommandAnswer> {
    const engine = this.engines.sshEngine(id);
    if (engine.kind !== "telemak") {
      throw new OpenAIError(409, `engine '${id}' is not a Telemak (kind ${engine.kind}): use /service`, {
        code: "not_a_telemak",
      });
    }
    return answer(engine, action, await this.exec(engine, LAUNCHCTL_COMMANDS[action], SERVICE_COMMAND_TIMEOUT_MS));
  }

  /** Runs the configured command of `action`. @throws OpenAIError; 409 `ssh_command_not_configured`. */
  async service(id: string, action: ServiceAction): Promise<CommandAnswer> {
    const engine = this.engines.sshEngine(id);
    const command = engine.commands?.[action];
    if (!command) {
      throw new OpenAIError(
        409,
        `engine '${id}' has no '${action}' command: enrol it with ssh_commands: {start, stop, status}`,
        { code: "ssh_command_not_configured", param: "action" },
      );
    }
    return answer(engine, action, await this.exec(engine, command, SERVICE_COMMAND_TIMEOUT_MS));
  }

  /**
   * The last `lines` lines of the engine's log.
   * @throws OpenAIError; 409 `ssh_log_not_configured`; 404 `log_not_found` when `tail` read nothing and failed.
   */
  async logs(id: string, lines: number): Promise<LogTail> {
    const engine = this.engines.sshEngine(id);
    const path = logPathOf(engine);
    const result = await this.exec(engine, tailCommand(path, lines, false), LOG_TAIL_TIMEOUT_MS);
    if (result.rc !== 0 && result.stdout === "") {
      throw new OpenAIError(404, `engine '${id}': its log cannot be read: ${excerpt(result.stderr)}`, {
        code: "log_not_found",
      });
    }
    const splitter = new LogLineSplitter(path);
    const data = [...splitter.push(result.stdout), ...splitter.flush()];
    const stderr = excerpt(result.stderr);
    return { cluster: id, path, data, stderr: stderr === "" ? null : stderr, truncated: result.truncated };
  }

  /**
   * Follows the engine's log: connects first (so that a failure is an error status, not a broken stream), then
   * yields its last `lines` lines and each line appended, in batches, until `signal` aborts or
   * {@link LOG_FOLLOW_MAX_MS} passes.
   * @throws OpenAIError as {@link logs} before the stream starts; the stream itself throws OpenAIError 502.
   */
  async follow(id: string, lines: number, signal: AbortSignal): Promise<AsyncIterable<LogLine[]>> {
    const engine = this.engines.sshEngine(id);
    const path = logPathOf(engine);
    await this.contact(engine);
    const pool = this.pool;
    const endpoint = engine.endpoint;
    return (async function* () {
      const splitter = new LogLineSplitter(path);
      try {
        for await (const text of pool.stream(endpoint, tailCommand(path, lines, true), {
          signal,
          maxMs: LOG_FOLLOW_MAX_MS,
        })) {
          const batch = splitter.push(text);
          if (batch.length > 0) yield batch;
        }
      } catch (error) {
        throw toHttpError(error);
      }
      const rest = splitter.flush();
      if (rest.length > 0) yield rest;
    })();
  }

  /** Connects (or reuses) and pins the host key at first contact. */
  private async contact(engine: SshEngine): Promise<void> {
    try {
      const contact = await this.pool.contact(engine.endpoint);
      this.pin(engine, contact.hostKey);
    } catch (error) {
      throw this.failure(engine, error);
    }
  }

  /** Runs `command` on the engine's host, pinning the host key at first contact. */
  private async exec(engine: SshEngine, command: string, timeoutMs: number): Promise<ExecResult> {
    try {
      const result = await this.pool.exec(engine.endpoint, command, timeoutMs);
      this.pin(engine, result.hostKey);
      return result;
    } catch (error) {
      throw this.failure(engine, error);
    }
  }

  /** `error` as an OpenAIError; a host key seen before authentication failed is pinned all the same. */
  private failure(engine: SshEngine, error: unknown): unknown {
    if (error instanceof SshError && error.kind === "auth_failed" && error.hostKeys.offered) {
      this.pin(engine, error.hostKeys.offered);
    }
    return toHttpError(error);
  }

  private pin(engine: SshEngine, fingerprint: string): void {
    if (engine.endpoint.hostKey === null) this.engines.pinHostKey(engine.id, engine.endpoint.target, fingerprint);
  }
}

/** The log path of `engine`. @throws OpenAIError 409 `ssh_log_not_configured`. */
function logPathOf(engine: SshEngine): string {
  if (engine.logPath) return engine.logPath;
  throw new OpenAIError(409, `engine '${engine.id}' has no log path: enrol it with ssh_log: <path>`, {
    code: "ssh_log_not_configured",
  });
}

function answer(engine: SshEngine, action: string, result: ExecResult): CommandAnswer {
  return {
    cluster: engine.id,
    action,
    ok: result.rc === 0,
    rc: result.rc,
    ssh: engine.endpoint.target,
    stdout: excerpt(result.stdout),
    stderr: excerpt(result.stderr),
  };
}

/**
 * An {@link SshError} as the OpenAIError the admin API answers with (code `ssh_<kind>`: 502, 504 for timeouts, 500
 * for an unusable local key); anything else unchanged.
 */
export function toHttpError(error: unknown): unknown {
  if (!(error instanceof SshError)) return error;
  return new OpenAIError(sshErrorStatus(error.kind), error.message, { code: `ssh_${error.kind}` });
}
