/**
 * `GET /admin/status` with real parts: a real Ithaca with a real local model and a fake upstream whose answers are
 * slow. Per engine: what is loaded (local states from the engine, an upstream's models), what is serving a request
 * right now; OdyssAI-X's aggregate fields and pools; a local model unloaded through the admin API shows as such.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const ADMIN = "admin-status";
const admin = { authorization: `Bearer ${ADMIN}` };

let fake: FakeUpstream;
let server: RunningIthaca;

beforeAll(async () => {
  fake = new FakeUpstream({ models: ["m"] });
  server = await startIthaca(
    {
      auth: { admin_token_env: "STATUS_ADMIN" },
      models: [{ id: "tiny", path: makeModel("qwen3", { seed: 61 }) }],
      upstreams: [{ id: "fx", base_url: fake.baseUrl, models: ["m"], retry: { attempts: 1 } }],
    },
    { env: { STATUS_ADMIN: ADMIN } },
  );
});

afterAll(async () => {
  await server?.close();
  fake?.stop();
});

const status = async () => {
  const answer = await jsonCall(server.url, "GET", "/admin/status", undefined, admin);
  expect(answer.status).toBe(200);
  return answer.json;
};

describe("GET /admin/status", () => {
  test("what is loaded, per engine, and OdyssAI-X's aggregate", async () => {
    const json = await status();
    expect(json).toMatchObject({ loaded: true, loading: false, model: "tiny", in_flight: 0 });
    expect(json.engines.map((e: { id: string }) => e.id)).toEqual(["local", "fx"]);
    expect(json.engines[0]).toMatchObject({
      backend: "local",
      kind: "mlx",
      available: true,
      loaded: ["tiny"],
      loading: [],
      serving: [],
      models: [{ id: "tiny", ready: true, state: "loaded", in_flight: 0 }],
    });
    expect(json.engines[1]).toMatchObject({
      backend: "upstream:fx",
      kind: "openai-http",
      loaded: ["fx:m"],
      models: [{ id: "fx:m", ready: true, state: "ready", in_flight: 0 }],
    });
    expect(json.pools).toEqual([
      { cluster: "local", alias: "tiny", model: "tiny", nodes: 1, alive: true },
      { cluster: "fx", alias: "fx:m", model: "m", nodes: 1, alive: true },
    ]);
  });

  test("what is serving now", async () => {
    fake.behavior = { kind: "slow", delayMs: 800 };
    const openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    const pending = openai.chat.completions.create({ model: "fx:m", messages: [{ role: "user", content: "Hi" }] });
    let json = await status();
    while (json.in_flight === 0) {
      await Bun.sleep(10);
      json = await status();
    }
    expect(json.engines[1]).toMatchObject({ serving: ["fx:m"], in_flight: 1 });
    expect(json.engines[1].models[0].in_flight).toBe(1);
    expect(json.engines[0].serving).toEqual([]);
    await pending;
    fake.behavior = { kind: "ok" };
    expect((await status()).in_flight).toBe(0);
  });

  test("a local model unloaded shows as unloaded", async () => {
    expect((await jsonCall(server.url, "POST", "/admin/models/unload", { model: "tiny" }, admin)).status).toBe(200);
    const json = await status();
    expect(json.engines[0]).toMatchObject({ loaded: [], models: [{ id: "tiny", ready: false, state: "unloaded" }] });
    expect(json.model).toBeNull();
    expect(json.loaded).toBe(true); // the upstream's model still answers
  });

  test("admin-only", async () => {
    expect((await jsonCall(server.url, "GET", "/admin/status")).status).toBe(401);
  });
});
