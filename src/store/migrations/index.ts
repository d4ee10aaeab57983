/**
 * The schema migrations of the runtime database, in order: version N is the N-th entry, and SQLite's `user_version`
 * records the last one applied. The SQL lives in plain files beside this one, imported as text so that
 * `bun build --compile` embeds them. A migration is never edited once released: a change is a new file.
 */
import settings from "./0001-settings.sql" with { type: "text" };
import engines from "./0002-engines.sql" with { type: "text" };
import providers from "./0003-providers.sql" with { type: "text" };
import crew from "./0004-crew.sql" with { type: "text" };
import keys from "./0005-keys.sql" with { type: "text" };
import requests from "./0006-requests.sql" with { type: "text" };
import ssh from "./0007-ssh.sql" with { type: "text" };
import ringClusters from "./0008-ring-clusters.sql" with { type: "text" };

/** One schema step. */
export interface Migration {
  /** 1-based; equals its position in {@link MIGRATIONS}. */
  version: number;
  /** File name, for errors. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "0001-settings.sql", sql: settings },
  { version: 2, name: "0002-engines.sql", sql: engines },
  { version: 3, name: "0003-providers.sql", sql: providers },
  { version: 4, name: "0004-crew.sql", sql: crew },
  { version: 5, name: "0005-keys.sql", sql: keys },
  { version: 6, name: "0006-requests.sql", sql: requests },
  { version: 7, name: "0007-ssh.sql", sql: ssh },
  { version: 8, name: "0008-ring-clusters.sql", sql: ringClusters },
];
