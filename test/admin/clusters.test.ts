/**
 * Enrolment through `/admin/clusters` against real engines (fake Telemak-shaped upstreams on loopback): a dry run
 * previews the probe and saves nothing; a PUT probes, saves and serves at once (routed by the engine's id with the
 * openai SDK); an engine that does not answer is refused unless forced; configured engines are read-only; bad input
 * is a 400 naming the field; enrolled engines survive a restart; DELETE takes one out of service; a stored `api_key`
 * lives in the 0600 secrets file, goes out as Bearer and is never shown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { SECRETS_FILE } from "../../src/store/secrets.ts";
import { closedPort, FakeUpstream } from "../helpers/fake-upstream.ts";
import { tempDir } from "../helpers/paths.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const home = tempDir("ithaca-home-");
let configured: FakeUpstream;
let telemak: FakeUpstream;
let server: RunningIthaca;

const start = () =>
  startIthaca({ home, upstreams: [{ id: "cfg", base_url: configured.baseUrl, models: ["cfg-model"] }] });

beforeAll(async () => {
  configured = new FakeUpstream({ models: ["cfg-model"] });
  telemak = new FakeUpstream({ models: ["mlx-community/Qwen3-4B-4bit"], telemakContract: true });
  server = await start();
});

afterAll(async () => {
  await server.close();
  configured.stop();
  telemak.stop();
});

const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);

const servedIds = async () => (await admin("GET", "/v1/models")).json.data.map((model: { id: string }) => model.id);
/** The Telemak's address as a person types it: no `/v1`. */
const telemakUrl = () => telemak.baseUrl.replace(/\/v1$/, "");

describe("/admin/clusters", () => {
  test("the configured engine is listed, read-only", async () => {
    const { status, json } = await admin("GET", "/admin/clusters");
    expect(status).toBe(200);
    expect(json.data).toEqual([
      expect.objectContaining({ id: "cfg", source: "config", available: true, models: ["cfg:cfg-model"] }),
    ]);
    expect((await admin("PUT", "/admin/clusters/cfg", { kind: "telemak", upstream: telemakUrl() })).status).toBe(409);
    expect((await admin("DELETE", "/admin/clusters/cfg")).json.error.code).toBe("engine_read_only");
  });

  test("a dry run returns the probe and the engine as it would be, and saves nothing", async () => {
    const { status, json } = await admin("PUT", "/admin/clusters/tm1?dry_run=true", {
      kind: "telemak",
      upstream: telemakUrl(),
      name: "Studio",
    });
    expect(status).toBe(200);
    expect(json.dry_run).toBe(true);
    expect(json.probe).toMatchObject({
      reachable: true,
      models: [{ id: "mlx-community/Qwen3-4B-4bit", context_length: null }],
      contract: { engine: "telemak", version: "0.6.0", tools: true },
      error: null,
    });
    expect(json.probe.latency_ms).toBeGreaterThanOrEqual(0);
    expect(json.engine).toMatchObject({ id: "tm1", name: "Studio", upstream: telemak.baseUrl, source: "enrolled" });
    expect((await admin("GET", "/admin/clusters/tm1")).status).toBe(404);
    expect(await servedIds()).not.toContain("tm1:qwen3-4b-4bit");
  });

  test("PUT probes, saves and serves at once: the engine's models route by its id", async () => {
    const { status, json } = await admin("PUT", "/admin/clusters/tm1", {
      kind: "telemak",
      upstream: telemakUrl(),
      name: "Studio",
      ssh: "me@studio.local",
    });
    expect(status).toBe(200);
    expect(json.engine).toMatchObject({
      id: "tm1",
      kind: "telemak",
      ssh: "me@studio.local",
      enabled: true,
      available: true,
      models: ["tm1:qwen3-4b-4bit"],
    });
    expect(await servedIds()).toContain("tm1:qwen3-4b-4bit");
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "tm1:qwen3-4b-4bit",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from the fake upstream");
    expect(telemak.last.body.model).toBe("mlx-community/Qwen3-4B-4bit");
    // A Telemak reads max_tokens only and has no cap of its own (§9 #19).
    expect(telemak.last.body.max_tokens).toBe(4096);
    await client.chat.completions.create({
      model: "tm1:qwen3-4b-4bit",
      messages: [{ role: "user", content: "hi" }],
      max_completion_tokens: 77,
    });
    expect(telemak.last.body.max_tokens).toBe(77);
    expect("max_completion_tokens" in telemak.last.body).toBe(false);
  });

  test("an enrolled Telemak is published as OdyssAI-X publishes one, even without a contract of its own", async () => {
    const bare = new FakeUpstream({ models: ["mlx-community/Llama-3.2-1B-4bit"] });
    try {
      const url = bare.baseUrl.replace(/\/v1$/, "");
      expect((await admin("PUT", "/admin/clusters/tm2", { kind: "telemak", upstream: url, name: "Mini" })).status).toBe(
        200,
      );
      const entry = (await admin("GET", "/v1/models")).json.data.find(
        (m: { id: string }) => m.id === "tm2:llama-3.2-1b-4bit",
      );
      expect(entry.owned_by).toBe("odyssai-tm2");
      expect(entry.x_odyssai).toMatchObject({ kind: "telemak", backend: "http-proxy", cluster_label: "Mini" });
      expect((await admin("DELETE", "/admin/clusters/tm2")).status).toBe(200);
    } finally {
      bare.stop();
    }
  });

  test("by engine id: one model → it; several → 400 ambiguous; none → 503 with Retry-After; unknown → 404", async () => {
    const pair = new FakeUpstream({ models: ["org/Alpha-1B", "org/Beta-2B"] });
    const empty = new FakeUpstream({ models: [] });
    try {
      for (const [id, engine] of [
        ["duo", pair],
        ["idle", empty],
      ] as const) {
        const url = engine.baseUrl.replace(/\/v1$/, "");
        expect((await admin("PUT", `/admin/clusters/${id}`, { kind: "telemak", upstream: url })).status).toBe(200);
      }
      const chat = (model: string) =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
        });
      expect((await chat("tm1")).status).toBe(200); // tm1 serves one model
      const ambiguous = await chat("duo");
      expect(ambiguous.status).toBe(400);
      expect(((await ambiguous.json()) as { error: { code: string } }).error.code).toBe("model_ambiguous");
      for (const model of ["idle", "idle:qwen3"]) {
        const notReady = await chat(model);
        expect(notReady.status).toBe(503);
        expect(notReady.headers.get("retry-after")).toBe("2");
        expect(((await notReady.json()) as { error: { code: string } }).error.code).toBe("model_not_ready");
      }
      expect((await chat("duo:gamma-3b")).status).toBe(404);
      for (const id of ["duo", "idle"]) expect((await admin("DELETE", `/admin/clusters/${id}`)).status).toBe(200);
    } finally {
      pair.stop();
      empty.stop();
    }
  });

  test("an engine that does not answer is refused with the probe's failure, unless forced", async () => {
    const dead = { kind: "openai-compatible", upstream: `http://127.0.0.1:${closedPort()}` };
    const refused = await admin("PUT", "/admin/clusters/gone", dead);
    expect(refused.status).toBe(502);
    expect(refused.json.error).toMatchObject({ code: "probe_failed", param: "upstream" });
    expect(refused.json.error.message).toContain("engine 'gone' did not answer the probe");
    expect((await admin("GET", "/admin/clusters/gone")).status).toBe(404);
    const forced = await admin("PUT", "/admin/clusters/gone?force=true", dead);
    expect(forced.status).toBe(200);
    expect(forced.json.engine).toMatchObject({ id: "gone", models: [] });
    expect((await admin("DELETE", "/admin/clusters/gone")).json).toEqual({ ok: true, id: "gone" });
  });

  test("api_key is stored (0600 secrets file), sent as Bearer, never shown; clear_api_key removes it", async () => {
    const key = "sk-engine-secret-99";
    const put = await admin("PUT", "/admin/clusters/keyed", { kind: "telemak", upstream: telemakUrl(), api_key: key });
    expect(put.status).toBe(200);
    expect(put.json.engine).toMatchObject({ api_key_set: true, api_key_source: "stored", credential_env: null });
    expect(JSON.stringify(put.json)).not.toContain(key);
    expect(JSON.stringify((await admin("GET", "/admin/clusters")).json)).not.toContain(key);
    const secrets = join(home, SECRETS_FILE);
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(secrets, "utf8")).secrets["engine:keyed"]).toBe(key);
    const chat = (model: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
      });
    expect((await chat("keyed:qwen3-4b-4bit")).status).toBe(200);
    expect(telemak.last.headers.get("authorization")).toBe(`Bearer ${key}`);
    const cleared = await admin("PUT", "/admin/clusters/keyed", {
      kind: "telemak",
      upstream: telemakUrl(),
      clear_api_key: true,
    });
    expect(cleared.json.engine).toMatchObject({ api_key_set: false, api_key_source: "none" });
    expect((await chat("keyed:qwen3-4b-4bit")).status).toBe(200);
    expect(telemak.last.headers.get("authorization")).toBeNull();
    expect(readFileSync(secrets, "utf8")).not.toContain(key);
    const both = await admin("PUT", "/admin/clusters/keyed", {
      kind: "telemak",
      upstream: telemakUrl(),
      api_key: key,
      clear_api_key: true,
    });
    expect([both.status, both.json.error.param]).toEqual([400, "clear_api_key"]);
    expect((await admin("DELETE", "/admin/clusters/keyed")).status).toBe(200);
  });

  test("bad input is a 400 naming the field", async () => {
    const badId = await admin("PUT", "/admin/clusters/Not_A_Slug", { kind: "telemak", upstream: telemakUrl() });
    expect(badId.status).toBe(400);
    expect(badId.json.error.message).toContain("id");
    const badKind = await admin("PUT", "/admin/clusters/x1", { kind: "mainframe", upstream: telemakUrl() });
    expect(badKind.status).toBe(400);
    expect(badKind.json.error.param).toBe("kind");
    const badUrl = await admin("PUT", "/admin/clusters/x1", { kind: "telemak", upstream: "not a url" });
    expect(badUrl.json.error.param).toBe("upstream");
    const unknown = await admin("PUT", "/admin/clusters/x1", { kind: "telemak", upstream: telemakUrl(), port: 1 });
    expect(unknown.status).toBe(400);
  });

  test("enrolled engines survive a restart; DELETE takes one out of service for good", async () => {
    await server.close();
    server = await start();
    const listed = (await admin("GET", "/admin/clusters")).json.data.map((e: { id: string; source: string }) => e.id);
    expect(listed).toEqual(["cfg", "tm1"]);
    expect(await servedIds()).toContain("tm1:qwen3-4b-4bit");
    expect((await admin("DELETE", "/admin/clusters/tm1")).json).toEqual({ ok: true, id: "tm1" });
    expect(await servedIds()).not.toContain("tm1:qwen3-4b-4bit");
    expect((await admin("DELETE", "/admin/clusters/tm1")).status).toBe(404);
    await server.close();
    server = await start();
    expect((await admin("GET", "/admin/clusters")).json.count).toBe(1);
  });
});
