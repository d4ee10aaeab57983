/**
 * The runtime database: created and migrated from nothing, an older database migrated with its data kept, a newer
 * one refused, a failing migration rolled back, writes all-or-none, and durability — a writer killed with SIGKILL in
 * the middle of a burst loses none of the writes it acknowledged.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { MigrationError, migrate, schemaVersion } from "../../src/store/migrate.ts";
import { MIGRATIONS } from "../../src/store/migrations/index.ts";
import { DATABASE_FILE, Store } from "../../src/store/store.ts";
import { BUN, tempDir } from "../helpers/paths.ts";
import { startIthaca } from "../helpers/start.ts";

const LATEST = MIGRATIONS.length;
const tables = (db: Database) =>
  db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((row) => row.name);

describe("runtime database", () => {
  test("an empty home: the database is created, in WAL mode, at the latest schema", () => {
    const home = join(tempDir(), "home");
    const store = Store.open(home);
    expect(schemaVersion(store.db)).toBe(LATEST);
    expect(tables(store.db)).toEqual([
      "api_keys",
      "crew",
      "engines",
      "providers",
      "requests",
      "ring_clusters",
      "settings",
    ]);
    expect(store.db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(statSync(home).mode & 0o777).toBe(0o700);
    store.close();
    // Opening again migrates nothing and keeps the version.
    const again = Store.open(home);
    expect(schemaVersion(again.db)).toBe(LATEST);
    again.close();
  });

  test("an older database is migrated and keeps its data", () => {
    const home = tempDir();
    const old = new Database(join(home, DATABASE_FILE), { create: true, strict: true });
    migrate(old, MIGRATIONS.slice(0, 1));
    old.run("INSERT INTO settings (key, value, updated_at) VALUES ('enable_thinking', 'false', 1)");
    expect(schemaVersion(old)).toBe(1);
    old.close();
    const store = Store.open(home);
    expect(schemaVersion(store.db)).toBe(LATEST);
    expect(store.getSetting("enable_thinking")).toBe(false);
    expect(tables(store.db)).toContain("engines");
    store.close();
  });

  test("a database at version 2 (engines, no providers) is migrated and keeps its engines", () => {
    const home = tempDir();
    const old = new Database(join(home, DATABASE_FILE), { create: true, strict: true });
    migrate(old, MIGRATIONS.slice(0, 2));
    old.run(
      "INSERT INTO engines (id, label, kind, base_url, ssh_target, credential_env, enabled, created_at, updated_at) " +
        "VALUES ('studio', 'Studio', 'telemak', 'http://10.0.0.5:8003/v1', NULL, 'STUDIO_KEY', 1, 1, 1)",
    );
    expect(schemaVersion(old)).toBe(2);
    old.close();
    const store = Store.open(home);
    expect(schemaVersion(store.db)).toBe(LATEST);
    expect(store.engines.get("studio")).toMatchObject({ label: "Studio", credentialEnv: "STUDIO_KEY" });
    expect(store.providers.list()).toEqual([]);
    const saved = store.providers.put({
      id: "openrouter",
      protocol: "openai",
      apiBase: "https://openrouter.ai/api/v1",
      apiKeyEnv: null,
      published: [{ alias: "or:haiku", upstream: "anthropic/claude-haiku-4.5", caps: ["tools"] }],
      enabled: true,
    });
    expect(saved.published).toEqual([{ alias: "or:haiku", upstream: "anthropic/claude-haiku-4.5", caps: ["tools"] }]);
    // The protocol is checked by the table too.
    expect(() => store.providers.put({ ...saved, id: "bad", protocol: "grpc" as "openai" })).toThrow();
    expect(store.providers.delete("openrouter")).toBe(true);
    expect(store.providers.delete("openrouter")).toBe(false);
    store.close();
  });

  test("crew: one pairing per client id (pairing again replaces it), looked up by token digest", () => {
    const store = Store.open(tempDir());
    const pairing = (id: string, sha: string) => ({
      id,
      clientId: "companion-1",
      clientName: "Companion @ mac",
      userLabel: null,
      tokenSha256: sha,
      tokenPreview: "crew_abcd",
      createdAt: 1,
    });
    store.crew.put(pairing("crew-a", "aa"));
    expect(store.crew.byTokenSha256("aa")?.id).toBe("crew-a");
    store.crew.put(pairing("crew-b", "bb"));
    expect(store.crew.byTokenSha256("aa")).toBeUndefined();
    expect(store.crew.list().map((member) => member.id)).toEqual(["crew-b"]);
    store.crew.touch("crew-b", 42);
    expect(store.crew.byTokenSha256("bb")?.lastSeenAt).toBe(42);
    expect(store.crew.delete("crew-b")).toBe(true);
    expect(store.crew.delete("crew-b")).toBe(false);
    store.close();
  });

  test("a database from a newer Ithaca is refused, untouched", () => {
    const home = tempDir();
    const newer = new Database(join(home, DATABASE_FILE), { create: true });
    newer.run("PRAGMA user_version = 99");
    newer.close();
    expect(() => Store.open(home)).toThrow(MigrationError);
    expect(() => Store.open(home)).toThrow("schema version 99");
    const check = new Database(join(home, DATABASE_FILE));
    expect(schemaVersion(check)).toBe(99);
    expect(tables(check)).toEqual([]);
    check.close();
  });

  test("a migration that fails is rolled back whole and named", () => {
    const db = new Database(":memory:");
    const broken = { version: LATEST + 1, name: "9999-broken.sql", sql: "CREATE TABLE half (a INTEGER); NOT SQL;" };
    expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow("migration 9999-broken.sql failed");
    expect(schemaVersion(db)).toBe(LATEST);
    expect(tables(db)).not.toContain("half");
    db.close();
  });

  test("settings: JSON values, and a write is all or none", () => {
    const store = Store.open(tempDir());
    store.putSettings({ enable_thinking: true, limits: { rpm: 60 } });
    expect(store.settings()).toEqual({ enable_thinking: true, limits: { rpm: 60 } });
    // The second value cannot be stored (no JSON for undefined): neither is.
    expect(() => store.putSettings({ a: 1, b: undefined })).toThrow();
    expect(store.getSetting("a")).toBeUndefined();
    store.close();
  });

  test("processes opening one fresh database at once apply each migration once, and all succeed", async () => {
    const open = `import { Store } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "store", "store.ts"))};
      Store.open(process.env.STORE_HOME).close();`;
    for (let round = 0; round < 3; round++) {
      const home = tempDir();
      const openers = Array.from({ length: 4 }, () =>
        Bun.spawn([BUN, "-e", open], { env: { ...process.env, STORE_HOME: home }, stdout: "pipe", stderr: "pipe" }),
      );
      const codes = await Promise.all(openers.map((opener) => opener.exited));
      const errors = await Promise.all(openers.map((opener) => new Response(opener.stderr).text()));
      expect({ codes, errors: errors.filter(Boolean) }).toEqual({ codes: [0, 0, 0, 0], errors: [] });
      const store = Store.open(home);
      expect(schemaVersion(store.db)).toBe(LATEST);
      store.close();
    }
  }, 60_000);

  test("a writer killed with SIGKILL mid-burst loses no acknowledged write", async () => {
    const home = tempDir();
    const writer = Bun.spawn([BUN, join(import.meta.dir, "write-burst.ts"), home], { stdout: "pipe", stderr: "pipe" });
    const decoder = new TextDecoder();
    let output = "";
    const reader = writer.stdout.getReader();
    while ((output.match(/\n/g)?.length ?? 0) < 300) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`writer ended early: ${await new Response(writer.stderr).text()}`);
      output += decoder.decode(value, { stream: true });
    }
    writer.kill("SIGKILL");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      output += decoder.decode(value, { stream: true });
    }
    expect(await writer.exited).not.toBe(0);
    const acked = [...output.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
    expect(acked.length).toBeGreaterThanOrEqual(300);
    const store = Store.open(home);
    expect(store.db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check).toBe("ok");
    const settings = store.settings();
    const lost = acked.filter((n) => {
      const value = settings[`burst.${n}`] as { n: number; text: string } | undefined;
      return value?.n !== n || value.text.length !== n % 200;
    });
    expect(lost).toEqual([]);
    store.close();
  });

  test("the server opens the database under its home at start and closes it on close", async () => {
    const home = tempDir();
    const server = await startIthaca({ home });
    expect(schemaVersion(server.ithaca.store.db)).toBe(LATEST);
    server.ithaca.store.putSettings({ probe: 1 });
    await server.close();
    const reopened = Store.open(home);
    expect(reopened.getSetting("probe")).toBe(1);
    reopened.close();
  });
});
