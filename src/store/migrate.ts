/**
 * Versioned schema migrations with SQLite's `user_version` (https://sqlite.org/pragma.html#pragma_user_version): each
 * pending migration runs in its own transaction together with the version bump, so a database is always at exactly
 * one version — a migration that fails leaves it at the one before, intact. Each transaction takes the write lock
 * first (`BEGIN IMMEDIATE`) and reads the version again under it, so two processes starting at once on one database
 * (two Ithacas on one `ITHACA_HOME`) apply each migration once: the second waits (busy timeout), then skips it.
 */
import type { Database } from "bun:sqlite";
import type { Migration } from "./migrations/index.ts";

/** A database the migrations cannot bring to the current schema. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

/** The schema version a database is at (0: empty, never migrated). */
export function schemaVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}

/**
 * Applies the migrations newer than the database's version, in order.
 * @returns the versions applied (empty when the database was current).
 * @throws MigrationError when the database is newer than these migrations (written by a later Ithaca), or naming the
 *   migration whose SQL failed (the database stays at the version before it).
 */
export function migrate(db: Database, migrations: readonly Migration[]): number[] {
  const latest = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new MigrationError(
      `the database is at schema version ${current}, newer than this Ithaca knows (${latest}); use a newer Ithaca`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    try {
      const ran = db
        .transaction(() => {
          if (schemaVersion(db) >= migration.version) return false; // another process applied it meanwhile
          db.run(migration.sql);
          db.run(`PRAGMA user_version = ${migration.version}`);
          return true;
        })
        .immediate();
      if (ran) applied.push(migration.version);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(`migration ${migration.name} failed: ${reason}`);
    }
  }
  return applied;
}
