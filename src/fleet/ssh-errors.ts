/**
 * The typed error every SSH failure becomes ({@link SshError}): its kind, the HTTP status it maps to, and a message that
 * names the engine and the host, never a key's path or a stack.
 */

/** Why an SSH call failed; each maps to one HTTP status ({@link sshErrorStatus}). */
export type SshErrorKind =
  /** The target is not `user@host[:port]`. */
  | "invalid_target"
  /** Refused, no route, unknown host, or the connection closed before the SSH handshake ended. */
  | "unreachable"
  /** No SSH handshake within the connect timeout. */
  | "connect_timeout"
  /** The server refused every credential offered. */
  | "auth_failed"
  /** No credential at all, or the private key cannot be read or parsed. */
  | "key_unusable"
  /** The server offered a host key other than the pinned one. */
  | "host_key_changed"
  /** The command did not end within its timeout (its channel was closed). */
  | "command_timeout"
  /** The connection or the channel failed while in use. */
  | "failed";

/** An SSH failure, its message fit to show (it names the engine; never a key's path). */
export class SshError extends Error {
  override readonly name = "SshError";

  constructor(
    readonly kind: SshErrorKind,
    message: string,
    /** For `host_key_changed`: the pinned and the offered fingerprints; otherwise what the handshake saw, if any. */
    readonly hostKeys: { pinned: string | null; offered: string | null } = { pinned: null, offered: null },
  ) {
    super(message);
  }
}

/** The HTTP status of an SSH failure: 504 for timeouts, 502 for the other side's failures, 500 for a bad local key. */
export function sshErrorStatus(kind: SshErrorKind): number {
  if (kind === "connect_timeout" || kind === "command_timeout") return 504;
  if (kind === "key_unusable") return 500;
  if (kind === "invalid_target") return 400;
  return 502;
}
