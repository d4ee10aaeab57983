/**
 * The `crew` table: clients paired through `POST /admin/pair` (odyssai-x-wire §7). Tokens are kept as SHA-256 digests
 * only, looked up by digest; each write is one transaction.
 */
import type { Database } from "bun:sqlite";

/** One paired client as stored. */
export interface CrewRecord {
  /** `crew-<16 hex>`. */
  id: string;
  /** The client's own id (Companion: `companion-<uuid>`); pairing again with it replaces this record. */
  clientId: string;
  clientName: string;
  userLabel: string | null;
  /** SHA-256 of the token, hex. */
  tokenSha256: string;
  /** `crew_` and the token's first characters, for the operator. */
  tokenPreview: string;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms of the last request with its token (updated at most once a minute), or null. */
  lastSeenAt: number | null;
}

interface Row {
  id: string;
  client_id: string;
  client_name: string;
  user_label: string | null;
  token_sha256: string;
  token_preview: string;
  created_at: number;
  last_seen_at: number | null;
}

const fromRow = (row: Row): CrewRecord => ({
  id: row.id,
  clientId: row.client_id,
  clientName: row.client_name,
  userLabel: row.user_label,
  tokenSha256: row.token_sha256,
  tokenPreview: row.token_preview,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
});

/** Reads and writes the `crew` table of an open runtime database. */
export class CrewTable {
  constructor(private readonly db: Database) {}

  /** Every paired client, oldest first. */
  list(): CrewRecord[] {
    return this.db.query<Row, []>("SELECT * FROM crew ORDER BY created_at, id").all().map(fromRow);
  }

  /** The client whose token has this SHA-256 (hex), if paired. */
  byTokenSha256(sha256: string): CrewRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM crew WHERE token_sha256 = ?").get(sha256);
    return row === null ? undefined : fromRow(row);
  }

  /** Pairs a client, replacing any earlier pairing of its `clientId` (whose token stops working). */
  put(record: Omit<CrewRecord, "lastSeenAt">): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM crew WHERE client_id = ?").run(record.clientId);
      this.db
        .query(
          "INSERT INTO crew (id, client_id, client_name, user_label, token_sha256, token_preview, created_at) " +
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          record.id,
          record.clientId,
          record.clientName,
          record.userLabel,
          record.tokenSha256,
          record.tokenPreview,
          record.createdAt,
        );
    })();
  }

  /** Records a request with the client's token. */
  touch(id: string, at: number): void {
    this.db.query("UPDATE crew SET last_seen_at = ? WHERE id = ?").run(at, id);
  }

  /** Revokes a pairing. @returns whether it existed. */
  delete(id: string): boolean {
    return this.db.query("DELETE FROM crew WHERE id = ?").run(id).changes > 0;
  }
}
