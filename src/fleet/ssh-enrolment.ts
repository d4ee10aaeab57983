/**
 * The SSH side of enrolment (./enrolment.ts): the SSH fields of `PUT /admin/clusters/{id}` as stored, the first
 * contact that pins the host key, the engine as the SSH operations need it, and what the engine's view shows.
 *
 * Credentials, first hit wins: the key file named at enrolment (`ssh_key`), the key file `ITHACA_SSH_KEY` names, and
 * the SSH agent at `SSH_AUTH_SOCK` (offered too when there is a key). A key's path is never shown: the view says
 * where the credential comes from (`ssh_key_source`).
 *
 * The host key: `ssh_host_key` given at enrolment is pinned as given; otherwise the key the host offers at the first
 * contact (at enrolment, or at the first SSH call if the host did not answer then). A new SSH target, or
 * `repin_host_key: true`, forgets the pinned key.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { OpenAIError } from "../protocol/errors.ts";
import type { EngineKind, EngineRecord, SshCommands } from "../store/engines.ts";
import type { SshEndpoint, SshPool } from "./ssh.ts";
import { TELEMAK_LOG_GLOB } from "./ssh-logs.ts";
import type { SshEngine } from "./ssh-ops.ts";
import { SshError } from "./ssh-errors.ts";

/** The SSH fields of an engine as stored. */
export type SshFields = Pick<EngineRecord, "sshKeyPath" | "sshHostKey" | "sshCommands" | "sshLogPath">;

/** The SSH part of what `PUT /admin/clusters/{id}` sends (see EngineInput in ./enrolment.ts). */
export interface SshInput {
  /** `user@host` or `user@host:port` for SSH management. */
  ssh?: string;
  /** Path of the SSH private key on this machine (kept when absent; never shown). */
  ssh_key?: string;
  /** Forgets the stored `ssh_key` (then `ITHACA_SSH_KEY`, else the SSH agent). */
  clear_ssh_key?: boolean;
  /** The host key to pin, `SHA256:…` (default: the one offered at first contact). */
  ssh_host_key?: string;
  /** Forgets the pinned host key (a reinstalled host): the next contact pins the key it offers. */
  repin_host_key?: boolean;
  /** Commands managing the engine's service on a Linux host. */
  ssh_commands?: SshCommands;
  /** Its log file or glob on the SSH host (absolute or under `~/`). */
  ssh_log?: string;
}

/** The SSH part of an engine's view. */
export interface SshView {
  /** The pinned host key, `SHA256:…`; null until the first contact. */
  ssh_host_key: string | null;
  /** Where the SSH credential comes from: `enrolment` (`ssh_key`), `ITHACA_SSH_KEY`, `agent`, or `none`. */
  ssh_key_source: "enrolment" | "ITHACA_SSH_KEY" | "agent" | "none";
  ssh_commands: SshCommands | null;
  /** The log tailed by `/logs` (a Telemak's default when none was given), or null. */
  ssh_log: string | null;
}

/** What the SSH contact at enrolment found (`ssh` in the answer of `PUT /admin/clusters/{id}`). */
export interface EnrolmentSshContact {
  /** The host key the host offered, `SHA256:…`; null when it was not reached. */
  host_key: string | null;
  /** Whether the credential was accepted. */
  authenticated: boolean;
  /** Connection and authentication, in ms (null on failure). */
  latency_ms: number | null;
  /** Why the contact failed (`ssh_unreachable`, `ssh_auth_failed`, `ssh_host_key_changed`...), or null. */
  error: { code: string; message: string } | null;
}

const SSH_ONLY_FIELDS = ["ssh_key", "ssh_host_key", "repin_host_key", "ssh_commands", "ssh_log"] as const;

/**
 * The SSH fields to store for `input`, given the engine as enrolled now (`existing`).
 * @throws OpenAIError 400 `ssh_required` naming the field sent without `ssh`; 400 for `ssh_key` with `clear_ssh_key`.
 */
export function sshFieldsOf(input: SshInput, existing: EngineRecord | undefined): SshFields {
  if (!input.ssh) {
    const stray = SSH_ONLY_FIELDS.find((field) => input[field] !== undefined);
    if (stray) {
      throw new OpenAIError(400, `'${stray}' needs an SSH target: send ssh: "user@host"`, {
        code: "ssh_required",
        param: stray,
      });
    }
    return { sshKeyPath: null, sshHostKey: null, sshCommands: null, sshLogPath: null };
  }
  if (input.ssh_key !== undefined && input.clear_ssh_key) {
    throw new OpenAIError(400, "send either ssh_key or clear_ssh_key, not both", { param: "clear_ssh_key" });
  }
  const keepPin = existing?.sshTarget === input.ssh && !input.repin_host_key;
  const commands = Object.fromEntries(Object.entries(input.ssh_commands ?? {}).filter(([, command]) => command));
  return {
    sshKeyPath: input.clear_ssh_key ? null : (input.ssh_key ?? existing?.sshKeyPath ?? null),
    sshHostKey: input.ssh_host_key ?? (keepPin ? (existing?.sshHostKey ?? null) : null),
    sshCommands: Object.keys(commands).length > 0 ? (commands as SshCommands) : null,
    sshLogPath: input.ssh_log ?? null,
  };
}

/** A path as written at enrolment or in `ITHACA_SSH_KEY`, `~/` expanded. */
function expandHome(path: string): string {
  return path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

/** The login of an engine with an SSH target (or of a ring node: its id names cluster and node). */
export function endpointOf(
  engine: Pick<EngineRecord, "id" | "sshKeyPath" | "sshHostKey"> & { sshTarget: string },
  env: Record<string, string | undefined>,
): SshEndpoint {
  const keyPath = engine.sshKeyPath ?? (env.ITHACA_SSH_KEY || undefined);
  return {
    name: engine.id,
    target: engine.sshTarget,
    ...(keyPath ? { keyPath: expandHome(keyPath) } : {}),
    ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
    hostKey: engine.sshHostKey,
  };
}

/**
 * Connects to the engine's SSH target and authenticates, to pin the host key it offers (the caller pins it when none
 * is pinned). Never throws: a failure is described in `error`, with the offered key when the handshake got that far.
 */
export async function contactAtEnrolment(
  pool: SshPool,
  record: Pick<EngineRecord, "id" | "sshTarget" | "sshKeyPath" | "sshHostKey">,
  env: Record<string, string | undefined>,
): Promise<EnrolmentSshContact | null> {
  if (record.sshTarget === null) return null;
  try {
    const contact = await pool.contact(endpointOf({ ...record, sshTarget: record.sshTarget }, env));
    const latency = Math.round(contact.elapsedMs * 10) / 10;
    return { host_key: contact.hostKey, authenticated: true, latency_ms: latency, error: null };
  } catch (error) {
    if (!(error instanceof SshError)) throw error;
    return {
      host_key: error.hostKeys.offered,
      authenticated: false,
      latency_ms: null,
      error: { code: `ssh_${error.kind}`, message: error.message },
    };
  }
}

/**
 * The engine `id` as the SSH operations need it.
 * @param engine the enrolled engine; undefined for an engine from the configuration file.
 * @throws OpenAIError 409 `ssh_not_configured` when it has no SSH target.
 */
export function sshEngineOf(
  id: string,
  engine: EngineRecord | undefined,
  env: Record<string, string | undefined>,
): SshEngine {
  if (!engine?.sshTarget) {
    throw new OpenAIError(409, `engine '${id}' has no SSH target: enrol it with ssh: "user@host"`, {
      code: "ssh_not_configured",
      param: "id",
    });
  }
  return {
    id,
    kind: engine.kind,
    endpoint: endpointOf({ ...engine, sshTarget: engine.sshTarget }, env),
    commands: engine.sshCommands,
    logPath: defaultLogPath(engine.kind, engine.sshLogPath),
  };
}

function defaultLogPath(kind: EngineKind, configured: string | null): string | null {
  return configured ?? (kind === "telemak" ? TELEMAK_LOG_GLOB : null);
}

/**
 * Where an SSH login's credential comes from, first hit wins (as {@link endpointOf} picks it): its own key file
 * (`own`, as the view names it), `ITHACA_SSH_KEY`, the SSH agent, or none.
 */
export function sshKeySource<Own extends string>(
  keyPath: string | null,
  env: Record<string, string | undefined>,
  own: Own,
): Own | "ITHACA_SSH_KEY" | "agent" | "none" {
  if (keyPath) return own;
  if (env.ITHACA_SSH_KEY) return "ITHACA_SSH_KEY";
  return env.SSH_AUTH_SOCK ? "agent" : "none";
}

/** The SSH part of an engine's view (null: an engine from the configuration file). */
export function sshViewOf(
  engine: (SshFields & Pick<EngineRecord, "kind" | "sshTarget">) | null,
  env: Record<string, string | undefined>,
): SshView {
  if (!engine?.sshTarget) {
    return { ssh_host_key: null, ssh_key_source: "none", ssh_commands: null, ssh_log: null };
  }
  return {
    ssh_host_key: engine.sshHostKey,
    ssh_key_source: sshKeySource(engine.sshKeyPath, env, "enrolment"),
    ssh_commands: engine.sshCommands,
    ssh_log: defaultLogPath(engine.kind, engine.sshLogPath),
  };
}
