/**
 * What an SSH connection needs (reference/odyssai-x-wire.md §6.1, improved): the target `user@host[:port]`, checked
 * when enrolled and again before each call; the endpoint (who, where, which credential, which host key); the
 * credentials read for ssh2; a host key's SHA-256 fingerprint as `ssh-keygen -l` prints it; and what ssh2's connection
 * errors mean, as {@link SshError}s naming the engine and the host, never a key's path.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type ConnectConfig, utils } from "ssh2";
import { SshError } from "./ssh-errors.ts";

/** The default SSH port. */
export const SSH_DEFAULT_PORT = 22;

/** `user@host` or `user@host:port` (a host with several colons is an IPv6 address, port 22). */
export const SSH_TARGET_PATTERN = /^[A-Za-z0-9._-]+@[A-Za-z0-9.:_-]+$/;

/** Where to log in. */
export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/**
 * Parses `user@host[:port]`.
 * @param name the engine, named in the error.
 * @throws SshError `invalid_target` naming the engine when `text` is not a target.
 */
export function parseSshTarget(text: string, name: string): SshTarget {
  const invalid = () =>
    new SshError("invalid_target", `engine '${name}': the SSH target must be user@host or user@host:port`);
  if (!SSH_TARGET_PATTERN.test(text)) throw invalid();
  const at = text.indexOf("@");
  const user = text.slice(0, at);
  const rest = text.slice(at + 1);
  const colons = rest.split(":").length - 1;
  if (colons !== 1) {
    if (rest === "" || rest.startsWith("-")) throw invalid();
    return { user, host: rest, port: SSH_DEFAULT_PORT };
  }
  const [host = "", portText = ""] = rest.split(":");
  const port = Number(portText);
  if (host === "" || host.startsWith("-") || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65_535) {
    throw invalid();
  }
  return { user, host, port };
}

/** `host:port` of a target, for messages (the user is not secret, but a message needs only where). */
export function describeTarget(target: SshTarget): string {
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** A host key's fingerprint as OpenSSH shows it: `SHA256:` and the unpadded base64 of the SHA-256 of the key blob. */
export function hostKeyFingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** A fingerprint as {@link hostKeyFingerprint} writes it (what `ssh_host_key` accepts at enrolment). */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Who to log in as, where, with what, and which host key to expect. */
export interface SshEndpoint {
  /** The engine, named in errors. */
  name: string;
  /** `user@host` or `user@host:port`. */
  target: string;
  /** Private key file (unencrypted OpenSSH or PEM); never shown. */
  keyPath?: string;
  /** SSH agent socket (`SSH_AUTH_SOCK`). */
  agent?: string;
  /** The pinned host key fingerprint (`SHA256:…`); null: first contact, any key is accepted and reported. */
  hostKey: string | null;
}

/**
 * The key and agent of `endpoint`, ready for ssh2.
 * @throws SshError `key_unusable` naming the engine (never the path) when the key file cannot be read or parsed.
 */
export function readCredentials(endpoint: SshEndpoint): Pick<ConnectConfig, "privateKey" | "agent"> {
  const credentials: Pick<ConnectConfig, "privateKey" | "agent"> = {};
  if (endpoint.agent) credentials.agent = endpoint.agent;
  if (endpoint.keyPath === undefined) return credentials;
  let key: Buffer;
  try {
    key = readFileSync(endpoint.keyPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new SshError("key_unusable", `engine '${endpoint.name}': its SSH private key cannot be read (${code})`);
  }
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error || (Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey() !== true) {
    const reason = parsed instanceof Error ? parsed.message : "not a private key";
    throw new SshError("key_unusable", `engine '${endpoint.name}': its SSH private key cannot be used: ${reason}`);
  }
  credentials.privateKey = key;
  return credentials;
}

export function hostKeyChanged(endpoint: SshEndpoint, target: SshTarget, offered: string | null): SshError {
  return new SshError(
    "host_key_changed",
    `engine '${endpoint.name}': the SSH host key of ${describeTarget(target)} has changed: pinned ` +
      `${endpoint.hostKey}, offered ${offered}. Refusing to connect; if the host was reinstalled, enrol the engine ` +
      `again with repin_host_key: true.`,
    { pinned: endpoint.hostKey, offered },
  );
}

/** What an ssh2 connection error means, as an {@link SshError} naming the engine and the host. */
export function connectError(
  error: Error & { level?: string; code?: string },
  endpoint: SshEndpoint,
  target: SshTarget,
  offered: string | null,
  refused: string | null,
  timeoutMs: number,
  credentials: Pick<ConnectConfig, "privateKey" | "agent">,
): SshError {
  const where = describeTarget(target);
  const name = endpoint.name;
  if (refused !== null) return hostKeyChanged(endpoint, target, refused);
  const hostKeys = { pinned: endpoint.hostKey, offered };
  switch (error.level) {
    case "client-timeout":
      return new SshError("connect_timeout", `engine '${name}': no SSH session with ${where} within ${timeoutMs} ms`);
    case "client-authentication": {
      const offeredCredentials =
        credentials.privateKey || credentials.agent
          ? [credentials.privateKey ? "its private key" : "", credentials.agent ? "the SSH agent" : ""]
              .filter(Boolean)
              .join(" and ")
          : "no credential (set ssh_key at enrolment or ITHACA_SSH_KEY, or run an SSH agent)";
      return new SshError(
        "auth_failed",
        `engine '${name}': SSH authentication as '${target.user}' on ${where} failed with ${offeredCredentials}`,
        hostKeys,
      );
    }
    case "agent":
      return new SshError("auth_failed", `engine '${name}': the SSH agent failed: ${error.message}`, hostKeys);
    case "client-socket":
    case "client-dns":
      return new SshError(
        "unreachable",
        `engine '${name}': SSH host ${where} is unreachable (${error.code ?? error.message})`,
        hostKeys,
      );
    default:
      return new SshError("failed", `engine '${name}': SSH to ${where} failed: ${error.message}`, hostKeys);
  }
}
