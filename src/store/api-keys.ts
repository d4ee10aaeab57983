/**
 * The `api_keys` table: keys issued through `/admin/keys`, as SHA-256 digests with their allowed models and limits.
 * Each write is one transaction.
 */
import type { Database } from "bun:sqlite";

/** One issued key as stored. */
export interface ApiKeyRecord {
  /** `key-<12 hex>`. */
  id: string;
  name: string;
  /** SHA-256 of the key, hex. */
  keySha256: string;
  /** `sk-ith-` and the key's first characters, for the operator. */
  keyPreview: string;
  /** Model id patterns (`*` globs, case-insensitive): `["*"]` every model, `[]` none. */
  models: string[];
  /** Requests per minute; null: no limit. */
  rpm: number | null;
  /** Tokens (prompt and completion) per minute; null: no limit. */
  tpm: number | null;
  /** Requests at once; null: no limit. */
  maxConcurrent: number | null;
  /** Unix ms after which the key is refused; null: never. */
  expiresAt: number | null;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms. */
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  key_sha256: string;
  key_preview: string;
  models: string;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}

const fromRow = (row: Row): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  keySha256: row.key_sha256,
  keyPreview: row.key_preview,
  models: JSON.parse(row.models) as string[],
  rpm: row.rpm,
  tpm: row.tpm,
  maxConcurrent: row.max_concurrent,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Reads and writes the `api_keys` table of an open runtime database. */
export class ApiKeyTable {
  constructor(private readonly db: Database) {}

  /** Every issued key, oldest first. */
  list(): ApiKeyRecord[] {
    return this.db.query<Row, []>("SELECT * FROM api_keys ORDER BY created_at, id").all().map(fromRow);
  }

  get(id: string): ApiKeyRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM api_keys WHERE id = ?").get(id);
    return row === null ? undefined : fromRow(row);
  }

  /** Creates or replaces a key (its `createdAt` kept on replace). @returns the stored record. */
  put(record: Omit<ApiKeyRecord, "createdAt" | "updatedAt">): ApiKeyRecord {
    const now = Date.now();
    this.db
      .query(
        "INSERT INTO api_keys (id, name, key_sha256, key_preview, models, rpm, tpm, max_concurrent, expires_at, " +
          "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET " +
          "name = excluded.name, key_sha256 = excluded.key_sha256, key_preview = excluded.key_preview, " +
          "models = excluded.models, rpm = excluded.rpm, tpm = excluded.tpm, max_concurrent = excluded.max_concurrent, " +
          "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
      )
      .run(
        record.id,
        record.name,
        record.keySha256,
        record.keyPreview,
        JSON.stringify(record.models),
        record.rpm,
        record.tpm,
        record.maxConcurrent,
        record.expiresAt,
        now,
        now,
      );
    return this.get(record.id) as ApiKeyRecord;
  }

  /** Revokes a key. @returns whether it existed. */
  delete(id: string): boolean {
    return this.db.query("DELETE FROM api_keys WHERE id = ?").run(id).changes > 0;
  }
}
