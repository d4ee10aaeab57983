/**
 * Stored secrets (DESIGN §5): API keys handed to the admin API (cloud providers, enrolled engines) live in one JSON
 * file, `secrets.json` under the Ithaca home — never in the database, never in a response or a log line.
 *
 * - The file has mode 0600 and its directory 0700 (whatever the umask); a file found more open is tightened.
 * - Every write replaces the whole file atomically: a temporary file is created with mode 0600 beside it, written,
 *   flushed to disk, then renamed over it (and the directory flushed), so a crash leaves the old file or the new one,
 *   never half of either, and the secret is never readable by others, not even for a moment.
 * - The file is read at every call (it is small and read rarely), so it never disagrees with what is on disk.
 *
 * Format: `{"version": 1, "secrets": {"<namespace>:<id>": "<value>"}}` (`provider:openai`, `engine:studio`).
 */
import { randomUUID } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  chmodSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** The secrets file's name under the home. */
export const SECRETS_FILE = "secrets.json";
/** Mode of the secrets file (and of each temporary file written to replace it). */
export const SECRETS_FILE_MODE = 0o600;

/** A secrets file that cannot be read as one; the message names the file, never its content. */
export class SecretsError extends Error {
  override readonly name = "SecretsError";
}

interface SecretsFile {
  version: 1;
  secrets: Record<string, string>;
}

/** The secrets of one Ithaca home (see the module comment). */
export class SecretStore {
  /** Absolute path of the secrets file. */
  readonly path: string;

  /**
   * @param home the data directory (`config.home`); created with mode 0700 when missing. The file itself is created
   *   by the first {@link set}.
   */
  constructor(private readonly home: string) {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    this.path = join(home, SECRETS_FILE);
  }

  /**
   * The secret `name`, or undefined.
   * @throws SecretsError when the file exists but is not a secrets file.
   */
  get(name: string): string | undefined {
    return this.read()[name];
  }

  /** Whether a secret `name` is stored. @throws SecretsError as {@link get}. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The names of the stored secrets, sorted (never their values). @throws SecretsError as {@link get}. */
  names(): string[] {
    return Object.keys(this.read()).sort();
  }

  /**
   * Stores (or replaces) a secret; on disk when this returns.
   * @throws SecretsError when `value` is empty, or as {@link get}; Error from the file system when it cannot be written.
   */
  set(name: string, value: string): void {
    if (value.length === 0) throw new SecretsError(`secret '${name}' is empty`);
    const secrets = this.read();
    secrets[name] = value;
    this.write(secrets);
  }

  /**
   * Removes a secret; on disk when this returns.
   * @returns whether it was stored.
   * @throws as {@link set}.
   */
  delete(name: string): boolean {
    const secrets = this.read();
    if (!(name in secrets)) return false;
    delete secrets[name];
    this.write(secrets);
    return true;
  }

  private read(): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    if ((statSync(this.path).mode & 0o077) !== 0) {
      chmodSync(this.path, SECRETS_FILE_MODE);
      console.warn(`[ithaca] ${this.path} was readable by other users; its mode is now 0600`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const secrets = (parsed as Partial<SecretsFile> | undefined)?.secrets;
    const valid =
      (parsed as Partial<SecretsFile> | undefined)?.version === 1 &&
      secrets !== null &&
      typeof secrets === "object" &&
      !Array.isArray(secrets) &&
      Object.values(secrets).every((value) => typeof value === "string");
    if (!valid) throw new SecretsError(`${this.path} is not an Ithaca secrets file (version 1); fix or remove it`);
    return { ...secrets };
  }

  /** Replaces the file atomically (see the module comment). */
  private write(secrets: Record<string, string>): void {
    const body: SecretsFile = { version: 1, secrets };
    const temporary = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    const fd = openSync(temporary, "wx", SECRETS_FILE_MODE);
    try {
      try {
        fchmodSync(fd, SECRETS_FILE_MODE); // the umask may have taken bits away, never added: this is belt and braces
        writeSync(fd, `${JSON.stringify(body, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, this.path);
    } catch (error) {
      try {
        unlinkSync(temporary);
      } catch {
        // Already renamed or never written.
      }
      throw error;
    }
    syncDirectory(this.home);
  }
}

/** Flushes a directory's entries (the rename) to disk; a file system that cannot is left as it is. */
function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
