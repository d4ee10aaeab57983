/**
 * The secrets file (src/store/secrets.ts): mode 0600 in a 0700 directory whatever the umask, replaced atomically by a
 * rename (never rewritten in place, no temporary file left behind, a stale one ignored), cleared key by key, a file
 * found too open tightened, and a damaged file refused without quoting it.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECRETS_FILE, SecretStore, SecretsError } from "../../src/store/secrets.ts";
import { Store } from "../../src/store/store.ts";
import { tempDir } from "../helpers/paths.ts";

const mode = (path: string) => statSync(path).mode & 0o777;

/** Runs `work` with the process umask set to `mask` (restored after). */
function withUmask<T>(mask: number, work: () => T): T {
  const previous = process.umask(mask);
  try {
    return work();
  } finally {
    process.umask(previous);
  }
}

describe("secrets file", () => {
  test("created on first write with mode 0600, its directory 0700, even under umask 000", () => {
    const home = join(tempDir(), "home");
    const secrets = withUmask(0, () => {
      const store = new SecretStore(home);
      store.set("provider:openai", "sk-test-0001");
      return store;
    });
    expect(mode(home)).toBe(0o700);
    expect(mode(secrets.path)).toBe(0o600);
    expect(secrets.path).toBe(join(home, SECRETS_FILE));
    expect(JSON.parse(readFileSync(secrets.path, "utf8"))).toEqual({
      version: 1,
      secrets: { "provider:openai": "sk-test-0001" },
    });
    expect(secrets.get("provider:openai")).toBe("sk-test-0001");
    expect(secrets.has("engine:studio")).toBe(false);
    // Another instance on the same home reads what is on disk.
    expect(new SecretStore(home).get("provider:openai")).toBe("sk-test-0001");
  });

  test("every write replaces the file by a rename: a new inode, mode 0600, no temporary file left", () => {
    const home = tempDir();
    const secrets = new SecretStore(home);
    secrets.set("provider:a", "key-a");
    const first = statSync(secrets.path).ino;
    secrets.set("engine:b", "key-b");
    expect(statSync(secrets.path).ino).not.toBe(first);
    expect(mode(secrets.path)).toBe(0o600);
    expect(readdirSync(home)).toEqual([SECRETS_FILE]);
    expect(secrets.names()).toEqual(["engine:b", "provider:a"]);
  });

  test("a temporary file left by a write that crashed is ignored", () => {
    const home = tempDir();
    const secrets = new SecretStore(home);
    secrets.set("provider:a", "key-a");
    writeFileSync(join(home, `${SECRETS_FILE}.1234.crashed.tmp`), '{"version":1,"secr', { mode: 0o600 });
    expect(secrets.get("provider:a")).toBe("key-a");
    secrets.set("provider:a", "key-a2");
    expect(new SecretStore(home).get("provider:a")).toBe("key-a2");
  });

  test("clearing removes one key and keeps the others; clearing again is a no-op", () => {
    const secrets = new SecretStore(tempDir());
    secrets.set("provider:a", "key-a");
    secrets.set("provider:b", "key-b");
    expect(secrets.delete("provider:a")).toBe(true);
    expect(secrets.delete("provider:a")).toBe(false);
    expect(secrets.get("provider:a")).toBeUndefined();
    expect(secrets.get("provider:b")).toBe("key-b");
    expect(readFileSync(secrets.path, "utf8")).not.toContain("key-a");
    expect(mode(secrets.path)).toBe(0o600);
  });

  test("a file found readable by others is tightened to 0600", () => {
    const secrets = new SecretStore(tempDir());
    secrets.set("provider:a", "key-a");
    chmodSync(secrets.path, 0o644);
    expect(secrets.get("provider:a")).toBe("key-a");
    expect(mode(secrets.path)).toBe(0o600);
  });

  test("a damaged file is refused, named, never quoted; an empty secret is refused", () => {
    const home = tempDir();
    writeFileSync(join(home, SECRETS_FILE), '{"secrets": {"provider:a": "sk-live-do-not-print"}', { mode: 0o600 });
    const secrets = new SecretStore(home);
    expect(() => secrets.get("provider:a")).toThrow(SecretsError);
    try {
      secrets.get("provider:a");
    } catch (error) {
      expect((error as Error).message).toContain(SECRETS_FILE);
      expect((error as Error).message).not.toContain("sk-live");
    }
    expect(() => new SecretStore(tempDir()).set("provider:a", "")).toThrow(SecretsError);
  });

  test("the runtime store keeps its secrets beside the database, not in it", () => {
    const home = tempDir();
    const store = Store.open(home);
    store.secrets.set("provider:openai", "sk-not-in-the-db");
    store.close();
    expect(readFileSync(join(home, "ithaca.db")).includes("sk-not-in-the-db")).toBe(false);
    expect(new SecretStore(home).get("provider:openai")).toBe("sk-not-in-the-db");
  });
});
