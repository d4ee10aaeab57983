/**
 * Cloud providers managed through `/admin/providers` against emulated cloud APIs (test/fixtures/cloud/): templates;
 * configured cloud upstreams listed read-only (409); a PUT serves a provider at once — the OpenAI protocol through
 * the openai SDK, the Anthropic protocol through the Anthropic SDK and through chat completions — with its stored key
 * in the provider's own header; the key lives in a 0600 secrets file, never in the database nor in any admin answer;
 * env-var keys and clear_api_key; `/test` and `/upstream-models` (ok, key refused, unreachable); 400s naming the field;
 * providers survive a restart; DELETE takes one out of `/v1/models` at once.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { SECRETS_FILE } from "../../src/store/secrets.ts";
import { AnthropicFixture } from "../fixtures/cloud/anthropic.ts";
import { OpenAIFixture } from "../fixtures/cloud/openai.ts";
import { closedPort, FakeUpstream } from "../helpers/fake-upstream.ts";
import { tempDir } from "../helpers/paths.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const OPENAI_KEY = "sk-openai-stored-4711";
const ANTHROPIC_KEY = "sk-ant-stored-4712";
/** Read from the process environment by the providers (as `ithaca serve` reads its own). */
const ENV_NAME = "ITHACA_TEST_PROVIDER_KEY";
const KEYS = [OPENAI_KEY, ANTHROPIC_KEY];

const home = tempDir("ithaca-home-");
let openai: OpenAIFixture;
let anthropic: AnthropicFixture;
let lan: FakeUpstream;
let server: RunningIthaca;
/** Every admin answer's raw text: none may carry a key. */
const answers: string[] = [];

const start = () =>
  startIthaca(
    {
      home,
      upstreams: [
        {
          id: "cfg-cloud",
          base_url: openai.baseUrl,
          cloud: true,
          api_key_env: "CFG_KEY",
          published: [{ alias: "cfg-gpt", model: "gpt-4o", capabilities: ["tools"] }],
        },
        { id: "lan", base_url: lan.baseUrl, models: ["lan-model"] },
      ],
    },
    { env: { CFG_KEY: OPENAI_KEY } },
  );

beforeAll(async () => {
  openai = new OpenAIFixture({ apiKey: OPENAI_KEY, models: ["gpt-4o-mini", "gpt-4o"] });
  anthropic = new AnthropicFixture({ apiKey: ANTHROPIC_KEY, models: ["claude-haiku-4-5"] });
  lan = new FakeUpstream({ models: ["lan-model"] });
  server = await start();
});

afterAll(async () => {
  delete process.env[ENV_NAME];
  await server.close();
  await Promise.all([openai.close(), anthropic.close()]);
  lan.stop();
});

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  answers.push(text);
  return { status: response.status, json: JSON.parse(text) };
}

const models = async () =>
  (await admin("GET", "/v1/models")).json.data as Array<{ id: string; owned_by: string; x_odyssai: any }>;
const gpt = () => new OpenAI({ baseURL: server.baseURL, apiKey: "client-key", maxRetries: 0 });
const secretsPath = () => join(home, SECRETS_FILE);

const OAI = {
  api_base: "", // set in the tests: the fixture's base URL
  api_key: OPENAI_KEY,
  published: [{ alias: "gpt-mini", upstream: "gpt-4o-mini", caps: ["tools"] }],
};

describe("/admin/providers", () => {
  test("templates: custom, openai, anthropic, openrouter, with base URLs as upstreams[].base_url takes them", async () => {
    const { status, json } = await admin("GET", "/admin/providers/templates");
    expect(status).toBe(200);
    expect(json.count).toBe(4);
    expect(json.data.map((t: { id: string }) => t.id)).toEqual(["custom", "openai", "anthropic", "openrouter"]);
    expect(json.data[2]).toMatchObject({
      api_base: "https://api.anthropic.com/v1",
      api_key_env: "ANTHROPIC_API_KEY",
      protocol: "anthropic",
    });
    expect(json.data[3]).toMatchObject({ api_base: "https://openrouter.ai/api/v1", protocol: "openai" });
  });

  test("configured cloud upstreams are listed read-only; a LAN upstream is not a provider; their ids are taken", async () => {
    const { json } = await admin("GET", "/admin/providers");
    expect(json).toEqual({
      data: [
        {
          id: "cfg-cloud",
          api_base: openai.baseUrl,
          api_key_env: "CFG_KEY",
          api_key_set: true,
          api_key_source: "config",
          published: [{ alias: "cfg-gpt", upstream: "gpt-4o", caps: ["tools"] }],
          enabled: true,
          protocol: "openai",
          source: "config",
          available: true,
        },
      ],
      count: 1,
    });
    for (const id of ["cfg-cloud", "lan"]) {
      const put = await admin("PUT", `/admin/providers/${id}`, { api_base: openai.baseUrl });
      expect(put.status).toBe(409);
      expect(put.json.error).toMatchObject({ code: "provider_read_only", param: "id" });
    }
    expect((await admin("DELETE", "/admin/providers/cfg-cloud")).status).toBe(409);
    expect((await admin("GET", "/admin/providers/lan")).status).toBe(404);
    const tested = await admin("POST", "/admin/providers/cfg-cloud/test");
    expect(tested.json).toMatchObject({ ok: true, auth_used: "bearer", api_key_source: "config", models_count: 2 });
  });

  test("PUT (OpenAI protocol, stored key) serves the provider at once, its key as Authorization: Bearer", async () => {
    const { status, json } = await admin("PUT", "/admin/providers/oai", { ...OAI, api_base: openai.baseUrl });
    expect(status).toBe(200);
    expect(json).toEqual({
      id: "oai",
      api_base: openai.baseUrl,
      api_key_env: null,
      api_key_set: true,
      api_key_source: "stored",
      published: [{ alias: "gpt-mini", upstream: "gpt-4o-mini", caps: ["tools"] }],
      enabled: true,
      protocol: "openai",
      source: "runtime",
      available: true,
    });
    const entry = (await models()).find((model) => model.id === "gpt-mini");
    expect(entry?.owned_by).toBe("odyssai-cloud-oai");
    const completion = await gpt().chat.completions.create({
      model: "gpt-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from OpenAI.");
    const call = openai.calls.at(-1)!;
    expect(call.headers.get("authorization")).toBe(`Bearer ${OPENAI_KEY}`);
    expect((call.body as { model: string }).model).toBe("gpt-4o-mini");
  });

  test("the stored key is in a 0600 secrets file under the home, not in the database", () => {
    expect(statSync(secretsPath()).mode & 0o777).toBe(0o600);
    expect(readFileSync(secretsPath(), "utf8")).toContain(OPENAI_KEY);
    expect(readFileSync(join(home, "ithaca.db")).includes(OPENAI_KEY)).toBe(false);
  });

  test("PUT (Anthropic protocol): Anthropic SDK and chat completions reach it with x-api-key", async () => {
    // An address without a path gets /v1, as upstreams[].base_url wants it.
    const put = await admin("PUT", "/admin/providers/claude", {
      api_base: anthropic.origin,
      api_key: ANTHROPIC_KEY,
      protocol: "anthropic",
      published: [{ alias: "haiku", upstream: "claude-haiku-4-5", caps: ["tools", "thinking"] }],
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ api_base: anthropic.baseUrl, protocol: "anthropic", api_key_source: "stored" });
    expect((await models()).find((model) => model.id === "haiku")?.owned_by).toBe("odyssai-cloud-claude");
    const claude = new Anthropic({ baseURL: server.url, apiKey: "client-key", maxRetries: 0 });
    const message = await claude.messages.create({
      model: "haiku",
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello from Anthropic." });
    let call = anthropic.calls.at(-1)!;
    expect(call.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(call.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(call.headers.get("authorization")).toBeNull();
    const completion = await gpt().chat.completions.create({
      model: "haiku",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from Anthropic.");
    call = anthropic.calls.at(-1)!;
    expect(call.path).toBe("/v1/messages");
    expect(call.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
  });

  test("/test calls the provider's model list with its key; upstream-models lists it", async () => {
    expect((await admin("POST", "/admin/providers/oai/test")).json).toEqual({
      ok: true,
      models_count: 2,
      auth_used: "bearer",
      api_key_source: "stored",
      sample: ["gpt-4o-mini", "gpt-4o"],
    });
    expect((await admin("POST", "/admin/providers/claude/test")).json).toMatchObject({
      ok: true,
      models_count: 1,
      auth_used: "x-api-key",
      sample: ["claude-haiku-4-5"],
    });
    expect((await admin("GET", "/admin/providers/claude/upstream-models")).json).toEqual({
      data: [{ id: "claude-haiku-4-5" }],
      count: 1,
    });
    expect((await admin("POST", "/admin/providers/nobody/test")).status).toBe(404);
    expect((await admin("GET", "/admin/providers/nobody/upstream-models")).status).toBe(404);
  });

  test("a wrong key or an unreachable provider: /test says ok:false and why; upstream-models is a 502 naming it", async () => {
    expect(
      (await admin("PUT", "/admin/providers/wrong", { api_base: openai.baseUrl, api_key: "sk-wrong" })).status,
    ).toBe(200);
    const refused = await admin("POST", "/admin/providers/wrong/test");
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({ ok: false, models_count: 0, auth_used: "bearer", sample: [] });
    expect(refused.json.error).toContain("refused the API key (401)");
    const listed = await admin("GET", "/admin/providers/wrong/upstream-models");
    expect(listed.status).toBe(502);
    expect(listed.json.error.message).toContain("provider 'wrong'");

    const dead = `http://127.0.0.1:${closedPort()}/v1`;
    expect((await admin("PUT", "/admin/providers/gone", { api_base: dead, enabled: false })).status).toBe(200);
    const unreachable = await admin("POST", "/admin/providers/gone/test");
    expect(unreachable.status).toBe(200);
    expect(unreachable.json).toMatchObject({ ok: false, auth_used: "none", api_key_source: "none" });
    expect(unreachable.json.error).toContain("unreachable");
    expect((await admin("GET", "/admin/providers/gone/upstream-models")).status).toBe(502);
    expect((await admin("GET", "/admin/providers/gone")).json).toMatchObject({ enabled: false, available: false });
    for (const id of ["wrong", "gone"]) expect((await admin("DELETE", `/admin/providers/${id}`)).status).toBe(200);
  });

  test("a key named by environment variable; clear_api_key falls back to it; a PUT replaces the provider", async () => {
    process.env[ENV_NAME] = OPENAI_KEY;
    const env = await admin("PUT", "/admin/providers/envkey", {
      api_base: openai.baseUrl,
      api_key_env: ENV_NAME,
      published: [{ alias: "env-mini", upstream: "gpt-4o-mini" }],
    });
    expect(env.json).toMatchObject({ api_key_env: ENV_NAME, api_key_set: true, api_key_source: "env" });
    await gpt().chat.completions.create({ model: "env-mini", messages: [{ role: "user", content: "hi" }] });
    expect(openai.calls.at(-1)!.headers.get("authorization")).toBe(`Bearer ${OPENAI_KEY}`);

    // Stored beats env (here a wrong stored key: the request is refused); clearing it brings the env key back.
    const stored = await admin("PUT", "/admin/providers/envkey", {
      api_base: openai.baseUrl,
      api_key_env: ENV_NAME,
      api_key: "sk-stale",
      published: [{ alias: "env-4o", upstream: "gpt-4o" }],
    });
    expect(stored.json.api_key_source).toBe("stored");
    const ids = (await models()).map((model) => model.id);
    expect(ids).toContain("env-4o");
    expect(ids).not.toContain("env-mini");
    expect((await admin("POST", "/admin/providers/envkey/test")).json.ok).toBe(false);
    // A PUT without api_key keeps the stored one.
    const kept = await admin("PUT", "/admin/providers/envkey", { api_base: openai.baseUrl, api_key_env: ENV_NAME });
    expect(kept.json.api_key_source).toBe("stored");
    const cleared = await admin("PUT", "/admin/providers/envkey", {
      api_base: openai.baseUrl,
      api_key_env: ENV_NAME,
      clear_api_key: true,
    });
    expect(cleared.json).toMatchObject({ api_key_set: true, api_key_source: "env" });
    expect(readFileSync(secretsPath(), "utf8")).not.toContain("sk-stale");
    expect((await admin("POST", "/admin/providers/envkey/test")).json.ok).toBe(true);
    delete process.env[ENV_NAME];
    expect((await admin("GET", "/admin/providers/envkey")).json).toMatchObject({
      api_key_set: false,
      api_key_source: "none",
    });
    expect((await admin("DELETE", "/admin/providers/envkey")).status).toBe(200);
  });

  test("bad input is a 400 naming the field", async () => {
    const put = (id: string, body: unknown) => admin("PUT", `/admin/providers/${id}`, body);
    const badId = await put("Not_A_Slug", { api_base: openai.baseUrl });
    expect(badId.status).toBe(400);
    expect(badId.json.error.param).toBe("id");
    const cases: Array<[unknown, string]> = [
      [{}, "api_base"],
      [{ api_base: "ftp://example.org/v1" }, "api_base"],
      [{ api_base: "not a url" }, "api_base"],
      [{ api_base: openai.baseUrl, protocol: "grpc" }, "protocol"],
      [{ api_base: openai.baseUrl, api_key: "two words" }, "api_key"],
      [{ api_base: openai.baseUrl, api_key_env: "1BAD" }, "api_key_env"],
      [{ api_base: openai.baseUrl, published: [{ alias: "a b", upstream: "gpt-4o" }] }, "published.0.alias"],
      [{ api_base: openai.baseUrl, api_key: "sk-x", clear_api_key: true }, "clear_api_key"],
      [
        {
          api_base: openai.baseUrl,
          published: [
            { alias: "dup", upstream: "gpt-4o" },
            { alias: "dup", upstream: "gpt-4o-mini" },
          ],
        },
        "published.1.alias",
      ],
    ];
    for (const [body, param] of cases) {
      const answer = await put("x1", body);
      expect([answer.status, answer.json.error.param]).toEqual([400, param]);
    }
    expect((await put("templates", { api_base: openai.baseUrl })).json.error.param).toBe("id");
    expect((await put("x1", { api_base: openai.baseUrl, port: 1 })).status).toBe(400);
    expect((await admin("GET", "/admin/providers/x1")).status).toBe(404);
  });

  test("an enrolled engine's id and a provider's never clash", async () => {
    const engine = await admin("PUT", "/admin/clusters/oai?force=true", {
      kind: "openai-compatible",
      upstream: lan.baseUrl,
    });
    expect(engine.status).toBe(409);
    expect(engine.json.error.code).toBe("id_taken");
    expect(
      (await admin("PUT", "/admin/clusters/box", { kind: "openai-compatible", upstream: lan.baseUrl })).status,
    ).toBe(200);
    const provider = await admin("PUT", "/admin/providers/box", { api_base: openai.baseUrl });
    expect(provider.json.error).toMatchObject({ code: "id_taken", param: "id" });
    expect((await admin("DELETE", "/admin/clusters/box")).status).toBe(200);
  });

  test("providers and their keys survive a restart; DELETE takes one out of /v1/models at once", async () => {
    await server.close();
    server = await start();
    const listed = (await admin("GET", "/admin/providers")).json.data.map((p: { id: string; source: string }) => [
      p.id,
      p.source,
    ]);
    expect(listed).toEqual([
      ["cfg-cloud", "config"],
      ["claude", "runtime"],
      ["oai", "runtime"],
    ]);
    await gpt().chat.completions.create({ model: "gpt-mini", messages: [{ role: "user", content: "again" }] });
    expect(openai.calls.at(-1)!.headers.get("authorization")).toBe(`Bearer ${OPENAI_KEY}`);
    expect(statSync(secretsPath()).mode & 0o777).toBe(0o600);

    expect((await admin("DELETE", "/admin/providers/oai")).json).toEqual({ ok: true, id: "oai" });
    expect((await models()).map((model) => model.id)).not.toContain("gpt-mini");
    expect((await admin("DELETE", "/admin/providers/oai")).status).toBe(404);
    expect(readFileSync(secretsPath(), "utf8")).not.toContain(OPENAI_KEY);
    const gone = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(gone.status).toBe(404);
    await server.close();
    server = await start();
    expect((await admin("GET", "/admin/providers")).json.count).toBe(2);
  });

  test("behind the admin token when one is set", async () => {
    const guarded = await startIthaca({}, { env: { ITHACA_ADMIN_TOKEN: "admin-secret" } });
    try {
      const call = (method: string, path: string, token?: string) =>
        fetch(`${guarded.url}${path}`, {
          method,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
      for (const [method, path] of [
        ["GET", "/admin/providers"],
        ["GET", "/admin/providers/templates"],
        ["DELETE", "/admin/providers/x"],
        ["POST", "/admin/providers/x/test"],
      ] as const) {
        expect((await call(method, path)).status).toBe(401);
      }
      expect((await call("GET", "/admin/providers", "admin-secret")).status).toBe(200);
      expect((await call("POST", "/admin/providers/x/test", "admin-secret")).status).toBe(404);
    } finally {
      await guarded.close();
    }
  });

  test("no admin answer ever carried a key", () => {
    expect(answers.length).toBeGreaterThan(40);
    for (const text of answers) for (const key of [...KEYS, "sk-stale", "sk-wrong"]) expect(text).not.toContain(key);
  });
});
