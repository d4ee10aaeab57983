/**
 * The `engines` table: engines enrolled while Ithaca runs (`/admin/clusters`). Each write is one transaction,
 * committed when the call returns.
 */
import type { Database } from "bun:sqlite";

/** Kinds of enrolled engines; all speak the OpenAI dialect. */
export const ENGINE_KINDS = ["telemak", "ithaca", "odyssai-x", "openai-compatible"] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** Shell commands that manage an engine's service on a Linux host over SSH (a non-zero exit of `status`: not running). */
export interface SshCommands {
  start?: string;
  stop?: string;
  status?: string;
}

/** One enrolled engine as stored. */
export interface EngineRecord {
  id: string;
  label: string;
  kind: EngineKind;
  /** Base URL including the API prefix (`http://10.0.0.5:8003/v1`). */
  baseUrl: string;
  /** `user@host` or `user@host:port` for SSH management, when given. */
  sshTarget: string | null;
  /** Path of the SSH private key on this machine (never shown); null: `ITHACA_SSH_KEY`, else the SSH agent. */
  sshKeyPath: string | null;
  /** The pinned SSH host key, `SHA256:<base64>` (pinned at first contact); null until then. */
  sshHostKey: string | null;
  /** Commands that manage its service on a Linux host. */
  sshCommands: SshCommands | null;
  /** Its log file (or glob) on the SSH host; null: the kind's default. */
  sshLogPath: string | null;
  /** Name of the environment variable holding the engine's API key, when it needs one. */
  credentialEnv: string | null;
  enabled: boolean;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms. */
  updatedAt: number;
}

interface Row {
  id: string;
  label: string;
  kind: string;
  base_url: string;
  ssh_target: string | null;
  ssh_key_path: string | null;
  ssh_host_key: string | null;
  ssh_commands: string | null;
  ssh_log_path: string | null;
  credential_env: string | null;
  enabled: number;
  created_at: number;
  updated_at: number;
}

const fromRow = (row: Row): EngineRecord => ({
  id: row.id,
  label: row.label,
  kind: row.kind as EngineKind,
  baseUrl: row.base_url,
  sshTarget: row.ssh_target,
  sshKeyPath: row.ssh_key_path,
  sshHostKey: row.ssh_host_key,
  sshCommands: row.ssh_commands === null ? null : (JSON.parse(row.ssh_commands) as SshCommands),
  sshLogPath: row.ssh_log_path,
  credentialEnv: row.credential_env,
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Reads and writes the `engines` table of an open runtime database. */
export class EngineTable {
  constructor(private readonly db: Database) {}

  /** Every enrolled engine, by id. */
  list(): EngineRecord[] {
    return this.db.query<Row, []>("SELECT * FROM engines ORDER BY id").all().map(fromRow);
  }

  /** The engine `id`, if enrolled. */
  get(id: string): EngineRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM engines WHERE id = ?").get(id);
    return row === null ? undefined : fromRow(row);
  }

  /**
   * Creates or replaces an engine (its `createdAt` kept on replace).
   * @returns the stored record.
   */
  put(engine: Omit<EngineRecord, "createdAt" | "updatedAt">): EngineRecord {
    const now = Date.now();
    this.db
      .query(
        "INSERT INTO engines (id, label, kind, base_url, ssh_target, ssh_key_path, ssh_host_key, ssh_commands, " +
          "ssh_log_path, credential_env, enabled, created_at, updated_at) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET label = excluded.label, " +
          "kind = excluded.kind, base_url = excluded.base_url, ssh_target = excluded.ssh_target, " +
          "ssh_key_path = excluded.ssh_key_path, ssh_host_key = excluded.ssh_host_key, " +
          "ssh_commands = excluded.ssh_commands, ssh_log_path = excluded.ssh_log_path, " +
          "credential_env = excluded.credential_env, enabled = excluded.enabled, updated_at = excluded.updated_at",
      )
      .run(
        engine.id,
        engine.label,
        engine.kind,
        engine.baseUrl,
        engine.sshTarget,
        engine.sshKeyPath,
        engine.sshHostKey,
        engine.sshCommands === null ? null : JSON.stringify(engine.sshCommands),
        engine.sshLogPath,
        engine.credentialEnv,
        engine.enabled ? 1 : 0,
        now,
        now,
      );
    return this.get(engine.id) as EngineRecord;
  }

  /**
   * Pins an engine's SSH host key (first contact), unless one is pinned already or its SSH target is no longer
   * `target` (re-enrolled meanwhile).
   * @returns whether this call pinned it.
   */
  pinHostKey(id: string, target: string, fingerprint: string): boolean {
    return (
      this.db
        .query("UPDATE engines SET ssh_host_key = ? WHERE id = ? AND ssh_target = ? AND ssh_host_key IS NULL")
        .run(fingerprint, id, target).changes > 0
    );
  }

  /** Removes an engine. @returns whether it was enrolled. */
  delete(id: string): boolean {
    return this.db.query("DELETE FROM engines WHERE id = ?").run(id).changes > 0;
  }
}
