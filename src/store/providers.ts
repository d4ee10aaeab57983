/**
 * The `providers` table: cloud providers added while Ithaca runs (`/admin/providers`). Each write is one transaction,
 * committed when the call returns. Keys are not stored here (./secrets.ts).
 */
import type { Database } from "bun:sqlite";

/** The wire protocols a provider speaks: OpenAI's chat completions, or Anthropic's Messages API. */
export const PROVIDER_PROTOCOLS = ["openai", "anthropic"] as const;
export type ProviderProtocol = (typeof PROVIDER_PROTOCOLS)[number];

/** One model a provider publishes, in OdyssAI-X's shape: the client-side alias, the provider's own id, capabilities. */
export interface PublishedAlias {
  alias: string;
  /** The provider's model id (`gpt-4o-mini`, `anthropic/claude-haiku-4.5`). */
  upstream: string;
  /** Capability names (`tools`, `vision`, `thinking`...). */
  caps: string[];
}

/** One provider as stored. */
export interface ProviderRecord {
  id: string;
  protocol: ProviderProtocol;
  /** Base URL including the API prefix (`https://api.openai.com/v1`, `https://api.anthropic.com/v1`). */
  apiBase: string;
  /** Name of the environment variable holding its key, when one is named. */
  apiKeyEnv: string | null;
  /** Empty: the provider's own model list is served. */
  published: PublishedAlias[];
  enabled: boolean;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms. */
  updatedAt: number;
}

interface Row {
  id: string;
  protocol: string;
  api_base: string;
  api_key_env: string | null;
  published: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

const fromRow = (row: Row): ProviderRecord => ({
  id: row.id,
  protocol: row.protocol as ProviderProtocol,
  apiBase: row.api_base,
  apiKeyEnv: row.api_key_env,
  published: JSON.parse(row.published) as PublishedAlias[],
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Reads and writes the `providers` table of an open runtime database. */
export class ProviderTable {
  constructor(private readonly db: Database) {}

  /** Every provider, by id. */
  list(): ProviderRecord[] {
    return this.db.query<Row, []>("SELECT * FROM providers ORDER BY id").all().map(fromRow);
  }

  /** The provider `id`, if there is one. */
  get(id: string): ProviderRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM providers WHERE id = ?").get(id);
    return row === null ? undefined : fromRow(row);
  }

  /**
   * Creates or replaces a provider (its `createdAt` kept on replace).
   * @returns the stored record.
   * @throws Error from SQLite when a field breaks a constraint (a protocol outside {@link PROVIDER_PROTOCOLS}).
   */
  put(provider: Omit<ProviderRecord, "createdAt" | "updatedAt">): ProviderRecord {
    const now = Date.now();
    this.db
      .query(
        "INSERT INTO providers (id, protocol, api_base, api_key_env, published, enabled, created_at, updated_at) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET protocol = excluded.protocol, " +
          "api_base = excluded.api_base, api_key_env = excluded.api_key_env, published = excluded.published, " +
          "enabled = excluded.enabled, updated_at = excluded.updated_at",
      )
      .run(
        provider.id,
        provider.protocol,
        provider.apiBase,
        provider.apiKeyEnv,
        JSON.stringify(provider.published),
        provider.enabled ? 1 : 0,
        now,
        now,
      );
    return this.get(provider.id) as ProviderRecord;
  }

  /** Removes a provider. @returns whether there was one. */
  delete(id: string): boolean {
    return this.db.query("DELETE FROM providers WHERE id = ?").run(id).changes > 0;
  }
}
