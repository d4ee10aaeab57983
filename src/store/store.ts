/**
 * Ithaca's runtime state (DESIGN §5): one SQLite database, `ithaca.db` under `ITHACA_HOME` (config `home`, default
 * `~/.ithaca`), opened with `bun:sqlite` in WAL mode and migrated to the current schema (./migrate.ts).
 *
 * Durability: every write is a transaction that has committed when the call returns, with `synchronous = FULL`, so
 * what a caller acknowledged survives the process being killed (and, as far as the disk keeps its promises, power
 * loss). Readers never wait for writers (WAL); a writer waits up to {@link BUSY_TIMEOUT_MS} for another process.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { EngineTable } from "./engines.ts";
import { migrate } from "./migrate.ts";
import { MIGRATIONS } from "./migrations/index.ts";
import { ProviderTable } from "./providers.ts";
import { CrewTable } from "./crew.ts";
import { RingClusterTable } from "./ring-clusters.ts";
import { ApiKeyTable } from "./api-keys.ts";
import { SecretStore } from "./secrets.ts";
import { RequestTable } from "./requests.ts";

/** The database file's name under `home`. */
export const DATABASE_FILE = "ithaca.db";
/** How long a write waits for a lock held by another connection, in ms. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * Switches the database to WAL. A process opening the same fresh file at the same moment may hold it: SQLite then
 * answers SQLITE_BUSY at once, without its busy handler, so this retries for up to {@link BUSY_TIMEOUT_MS}.
 * @throws SQLiteError when it stays busy that long, or for any other failure.
 */
function enableWal(db: Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.run("PRAGMA journal_mode = WAL");
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "SQLITE_BUSY" || Date.now() > deadline) throw error;
      Bun.sleepSync(5);
    }
  }
}

/** The open runtime database. */
export class Store {
  /** Engines enrolled at runtime. */
  readonly engines: EngineTable;
  /** Cloud providers added at runtime. */
  readonly providers: ProviderTable;
  /** Stored API keys: a file of mode 0600 beside the database, never the database itself (./secrets.ts). */
  readonly secrets: SecretStore;
  /** Paired clients (crew tokens, as digests). */
  readonly crew: CrewTable;
  /** API keys issued at runtime (as digests), with their allowed models and limits. */
  readonly apiKeys: ApiKeyTable;
  /** The request log (written in batches by ./request-log.ts). */
  readonly requests: RequestTable;
  /** Ring clusters: machines running one model together (src/fleet/ring/). */
  readonly ringClusters: RingClusterTable;

  private constructor(
    readonly db: Database,
    home: string,
  ) {
    this.engines = new EngineTable(db);
    this.providers = new ProviderTable(db);
    this.secrets = new SecretStore(home);
    this.crew = new CrewTable(db);
    this.apiKeys = new ApiKeyTable(db);
    this.requests = new RequestTable(db);
    this.ringClusters = new RingClusterTable(db);
  }

  /**
   * Opens (creating it, mode 0700 for the directory) the database under `home` and migrates it.
   * @param home the data directory (`config.home`).
   * @throws MigrationError when the schema cannot be brought up to date; Error from SQLite when the file cannot be
   *   opened (not a database, no permission).
   */
  static open(home: string): Store {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const db = new Database(join(home, DATABASE_FILE), { create: true, strict: true });
    try {
      db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      enableWal(db);
      db.run("PRAGMA synchronous = FULL");
      db.run("PRAGMA foreign_keys = ON");
      migrate(db, MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db, home);
  }

  /** A setting's value (any JSON value), or undefined when unset. */
  getSetting(key: string): unknown {
    const row = this.db.query<{ value: string }, [string]>("SELECT value FROM settings WHERE key = ?").get(key);
    return row === null ? undefined : JSON.parse(row.value);
  }

  /** Every setting, by key. */
  settings(): Record<string, unknown> {
    const rows = this.db
      .query<{ key: string; value: string }, []>("SELECT key, value FROM settings ORDER BY key")
      .all();
    return Object.fromEntries(rows.map((row) => [row.key, JSON.parse(row.value)]));
  }

  /**
   * Sets settings, all or none (one transaction); committed when this returns.
   * @param values key → any JSON value.
   */
  putSettings(values: Record<string, unknown>): void {
    const upsert = this.db.query<unknown, [string, string, number]>(
      "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) " +
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    );
    const now = Date.now();
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(values)) upsert.run(key, JSON.stringify(value), now);
    })();
  }

  /** Closes the database (checkpointing the WAL into the main file). */
  close(): void {
    this.db.close();
  }
}
