/**
 * API keys issued through `/admin/keys` (issue 13 item 2), with the real openai and Anthropic SDKs against a real
 * Ithaca: a key is shown once and stored as a digest; issuing one closes open mode; a key restricted to one model gets
 * 403 on another and sees only its models; requests per minute, requests at once and tokens per minute trip with 429
 * and Retry-After in the caller's dialect and recover; rotation and revocation take effect at once; expiry; the admin
 * token never serves inference; static keys keep working; keys survive a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { DATABASE_FILE } from "../../src/store/store.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { tempDir } from "../helpers/paths.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const ADMIN = "admin-keys";
const home = tempDir("ithaca-home-");
let upstream: FakeUpstream;
let server: RunningIthaca;

const start = () =>
  startIthaca(
    {
      home,
      auth: { admin_token_env: "KEYS_ADMIN" },
      upstreams: [{ id: "lan", base_url: upstream.baseUrl, models: ["alpha", "beta"] }],
    },
    { env: { KEYS_ADMIN: ADMIN } },
  );

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["alpha", "beta"] });
  server = await start();
});

afterAll(async () => {
  await server.close();
  upstream.stop();
});

const admin = (method: string, path: string, body?: unknown) =>
  jsonCall(server.url, method, path, body, { authorization: `Bearer ${ADMIN}` });
const hi = [{ role: "user" as const, content: "hi" }];
const openai = (key: string) => new OpenAI({ baseURL: server.baseURL, apiKey: key, maxRetries: 0 });
/** The status the openai SDK met for a chat: 200, or its APIError's (and the error, for its headers). */
const chat = (key: string, model = "lan:alpha") =>
  openai(key)
    .chat.completions.create({ model, messages: hi })
    .then(
      () => ({ status: 200, error: undefined as any }),
      (error: { status?: number }) => ({ status: error.status, error: error as any }),
    );
const issue = async (body: Record<string, unknown>) => {
  const issued = await admin("POST", "/admin/keys", body);
  expect(issued.status).toBe(200);
  return issued.json as { id: string; key: string };
};

describe("/admin/keys", () => {
  test("open mode until a key is issued; the key is shown once and stored as a digest", async () => {
    expect((await chat("anything")).status).toBe(200); // open mode
    const contract = async () =>
      ((await (await fetch(`${server.url}/.well-known/inference-engine.json`)).json()) as any).auth.required;
    expect(await contract()).toBe(false);
    const issued = await issue({ name: "laptop" });
    expect(issued.key).toMatch(/^sk-ith-[A-Za-z0-9_-]{32}$/);
    expect(issued).toMatchObject({ name: "laptop", models: ["*"], rpm: null, expired: false });
    expect(await contract()).toBe(true);
    expect((await chat("anything")).status).toBe(401);
    expect((await chat(issued.key)).status).toBe(200);
    const listed = await admin("GET", "/admin/keys");
    expect(JSON.stringify(listed.json)).not.toContain(issued.key);
    expect(listed.json.data[0].key_preview).toBe(`${issued.key.slice(0, 11)}…`);
    expect(readFileSync(join(home, DATABASE_FILE)).includes(Buffer.from(issued.key))).toBe(false);
    // The admin token is for the admin API only.
    const withAdmin = await chat(ADMIN);
    expect(withAdmin.status).toBe(401);
    expect(withAdmin.error.code).toBe("admin_token_not_for_inference");
  });

  test("a key restricted to one model: 403 on another, in both dialects; it lists only its own", async () => {
    const { key } = await issue({ name: "alpha only", models: ["lan:alpha"] });
    expect((await chat(key, "lan:alpha")).status).toBe(200);
    const other = await chat(key, "lan:beta");
    expect(other.status).toBe(403);
    expect(other.error.code).toBe("model_not_allowed");
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: key, maxRetries: 0 });
    const refused = await anthropic.messages.create({ model: "lan:beta", max_tokens: 8, messages: hi }).then(
      () => undefined,
      (error: { status: number; error: unknown }) => error,
    );
    expect(refused?.status).toBe(403);
    expect(refused?.error).toMatchObject({ type: "error", error: { type: "permission_error" } });
    const models = await openai(key).models.list();
    expect(models.data.map((model) => model.id)).toEqual(["lan:alpha"]);
    const none = await issue({ name: "nothing", models: [] });
    expect((await chat(none.key)).status).toBe(403);
  });

  test("requests per minute: 429 with Retry-After, in the OpenAI and Anthropic shapes", async () => {
    const { key } = await issue({ name: "slow lane", rpm: 2 });
    expect((await chat(key)).status).toBe(200);
    expect((await chat(key)).status).toBe(200);
    const limited = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "lan:alpha", messages: hi }),
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await limited.json()) as any).error).toMatchObject({ code: "rate_limit_exceeded" });
    const anthropicShape = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "lan:alpha", max_tokens: 8, messages: hi }),
    });
    expect(anthropicShape.status).toBe(429);
    expect(((await anthropicShape.json()) as any).error.type).toBe("rate_limit_error");
  });

  test("requests at once: the second waits its turn with 429, and the place comes back after the stream", async () => {
    const { key } = await issue({ name: "one at a time", max_concurrent: 1 });
    upstream.behavior = { kind: "slow", delayMs: 600 };
    try {
      const first = openai(key).chat.completions.create({ model: "lan:alpha", messages: hi, stream: true });
      await Bun.sleep(150);
      expect((await chat(key)).status).toBe(429);
      const stream = await first;
      for await (const _ of stream) {
        // read to the end
      }
    } finally {
      upstream.behavior = { kind: "ok" };
    }
    expect((await chat(key)).status).toBe(200);
  });

  test("tokens per minute: charged once the answer's usage is known; the next request waits with 429", async () => {
    const { key } = await issue({ name: "token budget", tpm: 5 });
    expect((await chat(key)).status).toBe(200); // uses more than 5 tokens: it completes, the budget is spent
    let status: number | undefined = 200;
    for (let tries = 0; tries < 50 && status === 200; tries++) {
      await Bun.sleep(20); // the charge lands when the request's run ends, just after its last byte
      status = (await chat(key)).status;
    }
    expect(status).toBe(429);
  });

  test("PATCH changes limits at once; rotate replaces the secret; DELETE revokes; expiry", async () => {
    const issued = await issue({ name: "rotating", rpm: 1 });
    expect((await chat(issued.key)).status).toBe(200);
    expect((await chat(issued.key)).status).toBe(429);
    const patched = await admin("PATCH", `/admin/keys/${issued.id}`, { rpm: null, name: "renamed" });
    expect(patched.json).toMatchObject({ rpm: null, name: "renamed" });
    expect((await chat(issued.key)).status).toBe(200);
    const rotated = await admin("POST", `/admin/keys/${issued.id}/rotate`);
    expect(rotated.json.key).not.toBe(issued.key);
    expect((await chat(issued.key)).status).toBe(401);
    expect((await chat(rotated.json.key)).status).toBe(200);
    expect((await admin("DELETE", `/admin/keys/${issued.id}`)).json).toEqual({ ok: true, id: issued.id });
    expect((await chat(rotated.json.key)).status).toBe(401);
    expect((await admin("DELETE", `/admin/keys/${issued.id}`)).status).toBe(404);
    const soon = await issue({ name: "short-lived", expires_at: new Date(Date.now() + 1500).toISOString() });
    expect((await chat(soon.key)).status).toBe(200);
    await Bun.sleep(1600);
    const expired = await chat(soon.key);
    expect(expired.status).toBe(401);
    expect(expired.error.code).toBe("key_expired");
    expect((await admin("GET", `/admin/keys/${soon.id}`)).json.expired).toBe(true);
  });

  test("bad input is a 400 naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, "name"],
      [{ name: "x", rpm: 0 }, "rpm"],
      [{ name: "x", models: "all" }, "models"],
      [{ name: "x", expires_at: "tomorrow" }, "expires_at"],
      [{ name: "x", expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
      [{ name: "x", colour: "red" }, "colour"],
    ];
    for (const [body, field] of cases) {
      const answer = await admin("POST", "/admin/keys", body);
      expect(answer.status).toBe(400);
      expect(answer.json.error.message).toContain(field);
    }
    expect((await admin("PATCH", "/admin/keys/key-000000000000", { name: "x" })).status).toBe(404);
    expect((await admin("GET", "/admin/keys/nope")).status).toBe(400);
  });

  test("keys survive a restart", async () => {
    const { key } = await issue({ name: "keeper", models: ["lan:*"] });
    await server.close();
    server = await start();
    expect((await chat(key, "lan:beta")).status).toBe(200);
    expect((await chat("anything")).status).toBe(401);
  });
});
