/**
 * The `ring_clusters` table: clusters of machines that run one model together over MLX's ring backend
 * (src/fleet/ring/). Each write is one transaction, committed when the call returns.
 */
import type { Database } from "bun:sqlite";

/** One machine of a ring cluster. */
export interface RingNode {
  /** Its name in views and errors (`mac-studio-1`). */
  host: string;
  /** `user@host` or `user@host:port`. */
  ssh: string;
  /** The address its rank listens on for the ring (and rank 0 for HTTP): an IP literal reachable by the others. */
  ip: string;
  /** The pinned SSH host key, `SHA256:<base64>`; null until first contact. */
  sshHostKey: string | null;
}

/** One ring cluster as stored. */
export interface RingClusterRecord {
  id: string;
  label: string;
  modelsDir: string;
  /** How a node runs Ithaca: `ithaca` on its PATH, or a path. */
  ithacaCommand: string;
  /** Path of the SSH private key on this machine (never shown); null: `ITHACA_SSH_KEY`, else the SSH agent. */
  sshKeyPath: string | null;
  /** In rank order: rank r runs on `nodes[r]`. */
  nodes: RingNode[];
  /** Watchdog: seconds to the first token (a non-stream answer: to its headers, i.e. the whole answer). */
  prefillDeadlineS: number;
  /** Watchdog: seconds between two tokens of a stream. */
  decodeDeadlineS: number;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms. */
  updatedAt: number;
}

interface Row {
  id: string;
  label: string;
  models_dir: string;
  ithaca_command: string;
  ssh_key_path: string | null;
  nodes: string;
  prefill_deadline_s: number;
  decode_deadline_s: number;
  created_at: number;
  updated_at: number;
}

const fromRow = (row: Row): RingClusterRecord => ({
  id: row.id,
  label: row.label,
  modelsDir: row.models_dir,
  ithacaCommand: row.ithaca_command,
  sshKeyPath: row.ssh_key_path,
  nodes: JSON.parse(row.nodes) as RingNode[],
  prefillDeadlineS: row.prefill_deadline_s,
  decodeDeadlineS: row.decode_deadline_s,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Reads and writes the `ring_clusters` table of an open runtime database. */
export class RingClusterTable {
  constructor(private readonly db: Database) {}

  /** Every ring cluster, by id. */
  list(): RingClusterRecord[] {
    return this.db.query<Row, []>("SELECT * FROM ring_clusters ORDER BY id").all().map(fromRow);
  }

  /** The cluster `id`, if there is one. */
  get(id: string): RingClusterRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM ring_clusters WHERE id = ?").get(id);
    return row === null ? undefined : fromRow(row);
  }

  /**
   * Creates or replaces a cluster (its `createdAt` kept on replace).
   * @returns the stored record.
   */
  put(cluster: Omit<RingClusterRecord, "createdAt" | "updatedAt">): RingClusterRecord {
    const now = Date.now();
    this.db
      .query(
        "INSERT INTO ring_clusters (id, label, models_dir, ithaca_command, ssh_key_path, nodes, prefill_deadline_s, " +
          "decode_deadline_s, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO " +
          "UPDATE SET label = excluded.label, models_dir = excluded.models_dir, " +
          "ithaca_command = excluded.ithaca_command, ssh_key_path = excluded.ssh_key_path, nodes = excluded.nodes, " +
          "prefill_deadline_s = excluded.prefill_deadline_s, decode_deadline_s = excluded.decode_deadline_s, " +
          "updated_at = excluded.updated_at",
      )
      .run(
        cluster.id,
        cluster.label,
        cluster.modelsDir,
        cluster.ithacaCommand,
        cluster.sshKeyPath,
        JSON.stringify(cluster.nodes),
        cluster.prefillDeadlineS,
        cluster.decodeDeadlineS,
        now,
        now,
      );
    return this.get(cluster.id) as RingClusterRecord;
  }

  /**
   * Pins node `host`'s SSH host key (first contact), unless one is pinned already.
   * @returns whether this call pinned it.
   */
  pinHostKey(id: string, host: string, fingerprint: string): boolean {
    return this.db.transaction(() => {
      const cluster = this.get(id);
      const node = cluster?.nodes.find((n) => n.host === host);
      if (!cluster || !node || node.sshHostKey !== null) return false;
      node.sshHostKey = fingerprint;
      this.db.query("UPDATE ring_clusters SET nodes = ? WHERE id = ?").run(JSON.stringify(cluster.nodes), id);
      return true;
    })();
  }

  /** Removes a cluster. @returns whether there was one. */
  delete(id: string): boolean {
    return this.db.query("DELETE FROM ring_clusters WHERE id = ?").run(id).changes > 0;
  }
}
