/**
 * telemak-companion-wire §9, rows 1–5, 9–16, 30, 36 and 37: what a Companion-style client finds on Ithaca in front
 * of two emulated Telemaks (test/helpers/telemak-fleet.ts) — the contract, the model list and its OdyssAI fields,
 * how ids route, the virtual id `probe`, CORS and the ops passthrough, and Companion's join and disconnect (rows
 * 6–8; the details in test/admin/pairing.test.ts). Rows 17–35: telemak-checklist-chat.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigSchema } from "../../src/config/schema.ts";
import * as v from "valibot";
import { CORS_ORIGIN, KEY, startTelemakFleet, type TelemakFleet } from "../helpers/telemak-fleet.ts";
import { startIthaca } from "../helpers/start.ts";

let fleet: TelemakFleet;

beforeAll(async () => {
  fleet = await startTelemakFleet();
});

afterAll(async () => {
  await fleet.close();
});

const hi = [{ role: "user" as const, content: "hi" }];
const chat = (model: string, extra: Record<string, unknown> = {}) =>
  fleet.call("POST", "/v1/chat/completions", { model, messages: hi, ...extra });
const models = async () => (await fleet.call("GET", "/v1/models")).json.data as Array<Record<string, any>>;
const entry = async (id: string) => (await models()).find((model) => model.id === id);

describe("telemak-companion-wire §9: contract, catalog and routing", () => {
  test("#1 #2 #3 the contract is public, OdyssAI-shaped, and says cloud-passthrough", async () => {
    const response = await fetch(`${fleet.server.url}/.well-known/inference-engine.json`); // no key
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const contract = (await response.json()) as Record<string, any>;
    expect(contract).toMatchObject({
      vendor: "odyssai.eu",
      name: "Ithaca",
      version: expect.any(String),
      api_compat: ["openai/v1", "anthropic/v1"],
      auth: { required: true, scheme: "bearer", scope: "/v1/*", public_routes: expect.arrayContaining(["/health"]) },
    });
    expect(contract.features).toEqual(expect.arrayContaining(["cloud-passthrough", "tool-calling", "prefix-cache"]));
  });

  test("#4 Telemak's capability block and models[], from what the engines say of themselves", async () => {
    const contract = (await (await fetch(`${fleet.server.url}/.well-known/inference-engine.json`)).json()) as any;
    expect(contract.engine).toBe("ithaca");
    expect(contract.capabilities).toMatchObject({
      stream: true,
      tools: true,
      vision: false,
      embeddings: true, // duo serves an embedder (its contract's x_telemak.kind)
      max_context: 32768, // the Telemaks' own max_context
      session_cache: true,
      openai_compat: "v1",
      anthropic_compat: "v1",
      speculative_decoding: { supported: false },
    });
    const byId = new Map(contract.models.map((model: { id: string }) => [model.id, model]));
    expect(byId.get("duo:qwen3-embedding-0.6b-4bit")).toMatchObject({ capabilities: ["embeddings"], ready: true });
    expect(byId.get("studio:qwen3-4b-4bit")).toMatchObject({
      capabilities: ["tools", "prefix-cache"],
      context_length: 32768,
    });
  });

  test("#5 the default port is 8000 (Companion's LAN scan probes only :8000)", () => {
    expect(v.parse(ConfigSchema, {}).server.port).toBe(8000);
  });

  test("#6 #7 #8 Companion joins (gate open), lists models with its crew token, disconnects, is told so", async () => {
    expect((await fleet.call("POST", "/admin/pair", { client_id: "companion-1", client_name: "C" })).status).toBe(403);
    await fleet.call("POST", "/admin/discovery/enable");
    const joined = await fetch(`${fleet.server.url}/admin/pair`, {
      method: "POST",
      headers: { "content-type": "application/json" }, // no credential: pairing is how a client gets one
      body: JSON.stringify({ client_id: "companion-1", client_name: "Companion @ mac" }),
    });
    const { token, crew_id, engine, expires, ok } = (await joined.json()) as Record<string, any>;
    expect({ ok, expires, vendor: engine.vendor }).toEqual({ ok: true, expires: null, vendor: "odyssai.eu" });
    const crew = { authorization: `Bearer ${token}` };
    const listed = await fetch(`${fleet.server.baseURL}/models`, { headers: crew });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    const revoked = await fetch(`${fleet.server.url}/admin/crew/self`, { method: "DELETE", headers: crew });
    expect(await revoked.json()).toEqual({ ok: true, revoked: crew_id });
    const after = await fetch(`${fleet.server.baseURL}/models`, { headers: crew });
    expect(after.status).toBe(401);
    expect(after.headers.get("x-odyssai-crew-revoked")).toBe("true");
  });

  test("#9 #10 the model list: OpenAI list shape, owned_by odyssai-<pool>, 200 even when empty", async () => {
    const list = await fleet.call("GET", "/v1/models");
    expect(list.json.object).toBe("list");
    expect(list.json.data[0]).toMatchObject({
      object: "model",
      created: expect.any(Number),
      owned_by: "odyssai-studio",
    });
    expect(new Set(list.json.data.map((model: { owned_by: string }) => model.owned_by))).toEqual(
      new Set(["odyssai-studio", "odyssai-duo"]),
    );
    const empty = await startIthaca({});
    try {
      const answer = await fetch(`${empty.baseURL}/models`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ object: "list", data: [] });
    } finally {
      await empty.close();
    }
  });

  test("#11 #12 x_odyssai: tools and vision flags, the Telemak group and label, family, quantization, alias_for", async () => {
    const model = await entry("duo:qwen3.6-27b-4bit");
    expect(model?.root).toBe("mlx-community/Qwen3.6-27B-4bit");
    expect(model?.x_concrete).toBe("mlx-community/Qwen3.6-27B-4bit");
    expect(model?.x_odyssai).toMatchObject({
      supports_tools: true,
      supports_vision: false,
      kind: "telemak",
      cluster_label: "Duo · Qwen3.6-27B-4bit", // Companion's picker name: one per model
      family: "qwen3.6",
      quantization: "4bit",
      alias_for: "mlx-community/Qwen3.6-27B-4bit",
      backend: "http-proxy",
      pool: "duo",
      ready: true,
      loaded: true,
      context_length: 32768,
    });
    expect((await entry("duo:qwen3-embedding-0.6b-4bit"))?.x_odyssai.supports_tools).toBe(false);
    expect((await entry("studio:qwen3-4b-4bit"))?.x_odyssai.cluster_label).toBe("Studio"); // its only model
  });

  test("#14 ids match case-insensitively", async () => {
    const answer = await chat("STUDIO:Qwen3-4B-4bit");
    expect(answer.status).toBe(200);
    expect(answer.json.model).toBe("studio:qwen3-4b-4bit");
  });

  test("#15 aliases: engine id for one model, id:short for several, 400 ambiguous, 404 unknown; HF id upstream", async () => {
    expect((await chat("studio")).json.model).toBe("studio:qwen3-4b-4bit");
    expect(fleet.studio.last.body.model).toBe("mlx-community/Qwen3-4B-4bit");
    expect((await chat("duo:qwen3.6-27b-4bit")).json.model).toBe("duo:qwen3.6-27b-4bit");
    expect(fleet.duo.last.body.model).toBe("mlx-community/Qwen3.6-27B-4bit");
    const ambiguous = await chat("duo");
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.json.error.code).toBe("model_ambiguous");
    const unknown = await chat("duo:nothing-1b");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("model_not_found");
  });

  test("#16 only loaded models are listed; an engine with none loaded is 503 with Retry-After", async () => {
    const unload = await fleet.call("POST", "/admin/clusters/studio/unload", {
      model: "mlx-community/Qwen3-4B-4bit",
    });
    expect(unload.status).toBe(200);
    try {
      expect((await models()).map((model) => model.id)).not.toContain("studio:qwen3-4b-4bit");
      const none = await chat("studio");
      expect(none.status).toBe(503);
      expect(none.headers.get("retry-after")).toBeTruthy();
      expect(none.json.error.code).toBe("model_not_ready");
    } finally {
      await fleet.call("POST", "/admin/clusters/studio/load", { model: "mlx-community/Qwen3-4B-4bit" });
    }
    expect((await chat("studio")).status).toBe(200);
  });

  test("#30 the virtual id `probe` is served by a small ready model", async () => {
    const answer = await chat("probe", { max_tokens: 8 });
    expect(answer.status).toBe(200);
    // The smallest ready chat model among the Telemaks' (sizes unknown to the catalog: the first ready one).
    expect(answer.json.model).toMatch(/^(studio|duo):/);
  });

  test("#36 CORS for the configured origin only: 204 preflight allowing X-Session-Id", async () => {
    const preflight = (origin: string) =>
      fetch(`${fleet.server.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, authorization, x-session-id",
        },
      });
    const allowed = await preflight(CORS_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(CORS_ORIGIN);
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-session-id");
    expect(allowed.headers.get("access-control-allow-methods")).toContain("POST");
    const other = await preflight("http://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("#37 ops passthrough: status, inventory, load and unload of an enrolled Telemak", async () => {
    const status = await fleet.call("GET", "/admin/clusters/duo/status");
    expect(status.json).toMatchObject({ upstream_reachable: true, busy: false, current_phase: "idle" });
    const inventory = await fleet.call("GET", "/admin/clusters/duo/models");
    expect(inventory.json.models.map((model: { id: string }) => model.id)).toContain("stepfun-ai/Step-3.7-Flash-4bit");
    const load = await fleet.call("POST", "/admin/clusters/duo/load", { model: "mlx-community/Llama-3.2-1B-4bit" });
    expect(load.json).toEqual({ status: "loaded", model: "mlx-community/Llama-3.2-1B-4bit" });
    expect((await chat("duo:llama-3.2-1b-4bit")).status).toBe(200);
    await fleet.call("POST", "/admin/clusters/duo/unload", { model: "mlx-community/Llama-3.2-1B-4bit" });
    expect((await chat("duo:llama-3.2-1b-4bit")).status).toBe(404);
  });

  test("the key is required on /v1/*", async () => {
    const refused = await fetch(`${fleet.server.baseURL}/models`);
    expect(refused.status).toBe(401);
    const accepted = await fetch(`${fleet.server.baseURL}/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(accepted.status).toBe(200);
  });
});
