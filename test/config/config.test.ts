/** Configuration: the YAML file, strict keys, `ITHACA_*` overrides, flags, the embedded default. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, REPO_ROOT, resolveConfig } from "../../src/config/load.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ithaca-config-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("config", () => {
  test("embedded default: the demo model under the repo, port 8000, loopback, open mode", async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config.server).toEqual({
      host: "127.0.0.1",
      port: 8000,
      body_limit_bytes: 4 * 1024 * 1024,
      idle_timeout_s: 0,
      body_timeout_ms: 30_000,
      max_json_depth: 64,
      allowed_hosts: [],
      cors_origins: [],
    });
    expect(config.models).toEqual([{ id: "demo", path: join(REPO_ROOT, "models", "demo"), aliases: [] }]);
    expect(config.upstreams).toEqual([]);
    expect(config.auth.api_keys).toEqual([]);
    expect(config.auth.admin_token).toBeUndefined();
  });

  test("--model replaces the demo model; its id is the directory name", async () => {
    const config = await loadConfig({ env: {}, cwd: dir, model: "models/Qwen3-0.6B-4bit" });
    expect(config.models).toEqual([{ id: "Qwen3-0.6B-4bit", path: join(dir, "models/Qwen3-0.6B-4bit"), aliases: [] }]);
  });

  test("a YAML file: defaults filled, paths relative to the file, secrets read from the named variables", async () => {
    const path = await write(
      "ithaca.yaml",
      [
        "server: { port: 9000 }",
        "auth: { api_keys: [k1], api_keys_env: MORE_KEYS, admin_token_env: ADMIN }",
        "models: [ { id: qwen, path: ./weights/qwen, aliases: [q] } ]",
        "upstreams:",
        "  - { id: telemak1, kind: openai-http, base_url: 'http://10.0.0.5:8003/v1', api_key_env: T1_KEY }",
      ].join("\n"),
    );
    const config = await loadConfig({ configPath: path, env: { MORE_KEYS: "k2, k3", ADMIN: "adm", T1_KEY: "sk-t1" } });
    expect(config.server.port).toBe(9000);
    expect(config.server.host).toBe("127.0.0.1");
    expect(config.auth.api_keys).toEqual(["k1", "k2", "k3"]);
    expect(config.auth.admin_token).toBe("adm");
    expect(config.models[0]?.path).toBe(join(dir, "weights/qwen"));
    expect(config.upstreams[0]).toMatchObject({
      id: "telemak1",
      api_key: "sk-t1",
      forward_session_id: true,
      cloud: false,
      timeout_ms: { connect: 10_000, first_byte: 300_000, idle: 120_000 },
      limits: { max_body_bytes: 64 * 1024 ** 2, max_error_body_bytes: 64 * 1024, max_sse_line_bytes: 8 * 1024 ** 2 },
    });
  });

  test("ITHACA_* variables override the file; flags override the variables", async () => {
    const path = await write("env.yaml", "server: { host: 0.0.0.0, port: 9000 }\nauth: { api_keys: [from-file] }\n");
    const env = {
      ITHACA_CONFIG: path,
      ITHACA_PORT: "9100",
      ITHACA_API_KEYS: "a,b",
      ITHACA_ADMIN_TOKEN: "t",
      ITHACA_HOME: "/var/ithaca",
    };
    const config = await loadConfig({ env });
    expect(config.server).toMatchObject({ host: "0.0.0.0", port: 9100 });
    expect(config.auth.api_keys).toEqual(["a", "b"]);
    expect(config.auth.admin_token).toBe("t");
    expect(config.home).toBe("/var/ithaca");
    expect((await loadConfig({ env, port: 9200, host: "127.0.0.2" })).server).toMatchObject({
      host: "127.0.0.2",
      port: 9200,
    });
  });

  test("unknown keys are errors that name the key", () => {
    const raw = {
      server: { prot: 1 },
      upstreams: [{ id: "a", kind: "openai-http", base_url: "http://x/v1", bogus: 2 }],
      extra: true,
    };
    expect(() => resolveConfig(raw, { baseDir: dir, env: {} })).toThrow(ConfigError);
    try {
      resolveConfig(raw, { baseDir: dir, env: {}, source: "test.yaml" });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain("test.yaml");
      expect(message).toContain("server.prot: unknown key");
      expect(message).toContain("upstreams.0.bogus: unknown key");
      expect(message).toContain("extra: unknown key");
    }
  });

  test("bad values name the key", () => {
    expect(() => resolveConfig({ server: { port: "eighty" } }, { baseDir: dir, env: {} })).toThrow("server.port");
    expect(() =>
      resolveConfig(
        { upstreams: [{ id: "Bad Id", kind: "openai-http", base_url: "http://x" }] },
        { baseDir: dir, env: {} },
      ),
    ).toThrow("upstreams.0.id");
    expect(() => resolveConfig({}, { baseDir: dir, env: { ITHACA_PORT: "http" } })).toThrow("ITHACA_PORT");
  });

  test("a file that is not YAML, or missing, is a ConfigError", async () => {
    const path = await write("broken.yaml", "server: { port: [\n");
    await expect(loadConfig({ configPath: path, env: {} })).rejects.toThrow("not valid YAML");
    await expect(loadConfig({ configPath: join(dir, "absent.yaml"), env: {} })).rejects.toThrow("not found");
  });
});
