/**
 * Model management for the local engine: the inventory under `engine.models_dir`, `/v1/models?include_unloaded`,
 * the admin API (load, unload, list), load on demand, the memory-fit check, idle-TTL unloading, admin auth, bad
 * bodies, and unloading under a running stream. Real Ithaca over real HTTP, real generated models, real Workers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { parseSSE } from "../../src/protocol/sse.ts";
import { makeModel, tempDir } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const MESSAGES = [{ role: "user" as const, content: "Name three colours of the sea." }];
const MiB = 2 ** 20;

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
interface ModelView {
  id: string;
  state: string;
  ready: boolean;
  source: string;
  arch: string | null;
  weight_bytes: number | null;
  kv_reserve_bytes: number | null;
  estimated_bytes: number | null;
  in_flight: number;
  last_used_at: string | null;
  loaded_at: string | null;
  error: string | null;
  already_loaded?: boolean;
  was_loaded?: boolean;
}

let bootDir: string;
let alphaDir: string;
let betaDir: string;
let inventory: string;

/** Bytes of tensor data in a safetensors file: its size minus the 8-byte length and the JSON header. */
function tensorBytes(file: string): number {
  const headerLength = Number(readFileSync(file).readBigUInt64LE(0));
  return statSync(file).size - 8 - headerLength;
}

beforeAll(() => {
  bootDir = makeModel("qwen3", { seed: 21 });
  alphaDir = makeModel("qwen3", { seed: 22 });
  betaDir = makeModel("llama", { seed: 23 });
  inventory = tempDir("ithaca-inventory-");
  symlinkSync(alphaDir, join(inventory, "alpha"));
  symlinkSync(betaDir, join(inventory, "beta"));
  symlinkSync(bootDir, join(inventory, "same-as-boot")); // the configured model's directory: not listed twice
  mkdirSync(join(inventory, "notes")); // no config.json: not a model
  writeFileSync(join(inventory, "notes", "README.md"), "not a model\n");
  mkdirSync(join(inventory, "broken"));
  writeFileSync(join(inventory, "broken", "config.json"), JSON.stringify({ model_type: "gpt9" }));
});

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

function post(server: RunningIthaca, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function adminModels(server: RunningIthaca, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/admin/models`, { headers });
  expect(response.status).toBe(200);
  return json<{ data: ModelView[]; memory: { budget_bytes: number; reserved_bytes: number; free_bytes: number } }>(
    response,
  );
}

async function stateOf(server: RunningIthaca, id: string): Promise<ModelView> {
  const found = (await adminModels(server)).data.find((model) => model.id === id);
  if (!found) throw new Error(`${id} not in /admin/models`);
  return found;
}

async function workers(server: RunningIthaca): Promise<number> {
  const health = await json<{ backends: { local: { workers: number } } }>(await fetch(`${server.url}/health`));
  return health.backends.local.workers;
}

async function listModels(server: RunningIthaca, query = "") {
  const response = await fetch(`${server.url}/v1/models${query}`);
  expect(response.status).toBe(200);
  return (await json<{ data: { id: string; x_odyssai: Record<string, unknown> }[] }>(response)).data;
}

function chat(server: RunningIthaca, model: string, extra: Record<string, unknown> = {}) {
  return post(server, "/v1/chat/completions", { model, messages: MESSAGES, max_tokens: 8, temperature: 0, ...extra });
}

async function expectError(response: Response, status: number, param: string | null, code?: string) {
  expect(response.status).toBe(status);
  const { error } = await json<ErrorBody>(response);
  expect(typeof error.message).toBe("string");
  expect(error.param).toBe(param);
  if (code !== undefined) expect(error.code).toBe(code);
  return error;
}

/** Polls until `check` holds or `seconds` pass. @returns whether it held. */
async function eventually(check: () => Promise<boolean>, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(100);
  }
  return check();
}

describe("GET /admin/models/{id}/stats", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    // No prefix cache: nothing a request leaves may stay alive.
    server = await startIthaca({
      models: [{ id: "boot", path: bootDir }],
      engine: { models_dir: inventory, prefix_cache: { enabled: false } },
    });
  });
  afterAll(() => server?.close());

  test("a loaded model's engine counters: requests, tokens, decode steps; arrays alive back to their idle count", async () => {
    const before = await json<{ liveArrays: number; completed: number }>(
      await fetch(`${server.url}/admin/models/boot/stats`),
    );
    for (let i = 0; i < 3; i++) expect((await chat(server, "boot")).status).toBe(200);
    type Stats = { id: string; completed: number; generatedTokens: number; decodeSteps: number; queued: number };
    const after = await json<Stats & { active: number; liveArrays: number; prefixCache: { entries: number } }>(
      await fetch(`${server.url}/admin/models/boot/stats`),
    );
    expect(after.id).toBe("boot");
    expect(after.completed - before.completed).toBe(3);
    expect(after.generatedTokens).toBeGreaterThan(0);
    expect(after.decodeSteps).toBeGreaterThan(0);
    expect([after.queued, after.active]).toEqual([0, 0]);
    expect([after.liveArrays, after.prefixCache.entries]).toEqual([before.liveArrays, 0]);
  });

  test("a model that is not loaded is 409 model_not_loaded; an unknown one 404", async () => {
    await expectError(await fetch(`${server.url}/admin/models/alpha/stats`), 409, "id", "model_not_loaded");
    await expectError(await fetch(`${server.url}/admin/models/nope/stats`), 404, "model", "model_not_found");
  });
});

describe("inventory and the admin API (load_on_demand off)", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca({
      models: [{ id: "boot", path: bootDir }],
      engine: { models_dir: inventory, load_on_demand: false },
    });
  });
  afterAll(() => server?.close());

  test("/v1/models lists loaded models; include_unloaded=true adds the inventory with ready: false", async () => {
    expect((await listModels(server)).map((model) => model.id)).toEqual(["boot"]);
    const all = await listModels(server, "?include_unloaded=true");
    expect(all.map((model) => model.id)).toEqual(["boot", "alpha", "beta"]);
    const [boot, alpha, beta] = all;
    expect(boot?.x_odyssai).toMatchObject({ ready: true, loaded: true });
    expect(alpha?.x_odyssai).toMatchObject({
      ready: false,
      loaded: false,
      loading: false,
      admin_loadable: true,
      family: "qwen3",
      context_length: 4096,
      size_bytes: tensorBytes(join(alphaDir, "model.safetensors")),
    });
    expect(beta?.x_odyssai).toMatchObject({ ready: false, family: "llama" });
    expect((await listModels(server, "?include_unloaded=false")).map((model) => model.id)).toEqual(["boot"]);
  });

  test("include_unloaded must be a boolean", async () => {
    await expectError(await fetch(`${server.url}/v1/models?include_unloaded=maybe`), 400, "include_unloaded");
  });

  test("GET /admin/models: configured and inventory models with state, bytes, in-flight; broken dirs show their error", async () => {
    const { data, memory } = await adminModels(server);
    expect(data.map((model) => model.id)).toEqual(["boot", "alpha", "beta", "broken"]);
    const [boot, alpha, , broken] = data;
    expect(boot).toMatchObject({
      source: "config",
      state: "loaded",
      ready: true,
      arch: "qwen3",
      in_flight: 0,
      error: null,
    });
    expect(boot?.loaded_at).not.toBeNull();
    expect(alpha).toMatchObject({
      source: "inventory",
      state: "unloaded",
      ready: false,
      arch: "qwen3",
      loaded_at: null,
    });
    expect(alpha?.weight_bytes).toBe(tensorBytes(join(alphaDir, "model.safetensors")));
    // Default KV reserve: 2 × layers (2) × kv heads (2) × head dim (16) × 4 bytes (float32) × 4096 tokens × 4 active.
    expect(alpha?.kv_reserve_bytes).toBe(2 * 2 * 2 * 16 * 4 * 4096 * 4);
    expect(alpha?.estimated_bytes).toBe(alpha!.weight_bytes! + alpha!.kv_reserve_bytes!);
    expect(broken?.state).toBe("unloaded");
    expect(broken?.error).toContain("model_type");
    expect(memory.reserved_bytes).toBe(boot!.estimated_bytes!);
    expect(memory.free_bytes).toBe(memory.budget_bytes - memory.reserved_bytes);
  });

  test("a request for an unloaded model is 404 model_not_loaded when loading on demand is off", async () => {
    const error = await expectError(await chat(server, "alpha"), 404, "model", "model_not_loaded");
    expect(error.message).toContain("/admin/models/load");
    expect(await workers(server)).toBe(1);
  });

  test("load → chat works → load again is idempotent → unload → 404 and ready: false", async () => {
    const loaded = await json<ModelView>(await post(server, "/admin/models/load", { model: "alpha" }));
    expect(loaded).toMatchObject({ id: "alpha", state: "loaded", ready: true, already_loaded: false });
    expect(await workers(server)).toBe(2);
    const again = await post(server, "/admin/models/load", { model: "ALPHA" }); // ids resolve case-insensitively
    expect(again.status).toBe(200);
    expect(await json<ModelView>(again)).toMatchObject({ id: "alpha", state: "loaded", already_loaded: true });
    expect(await workers(server)).toBe(2);

    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: "alpha",
      messages: MESSAGES,
      max_tokens: 8,
      temperature: 0,
    });
    expect(answer.model).toBe("alpha");
    expect(answer.usage?.completion_tokens).toBe(8);
    expect((await listModels(server)).map((model) => model.id)).toEqual(["boot", "alpha"]);
    expect((await stateOf(server, "alpha")).last_used_at).not.toBeNull();

    const unloaded = await post(server, "/admin/models/unload", { model: "alpha" });
    expect(unloaded.status).toBe(200);
    expect(await json<ModelView>(unloaded)).toMatchObject({
      id: "alpha",
      state: "unloaded",
      ready: false,
      was_loaded: true,
    });
    expect(await workers(server)).toBe(1);
    await expectError(await chat(server, "alpha"), 404, "model", "model_not_loaded");
    const alpha = (await listModels(server, "?include_unloaded=true")).find((model) => model.id === "alpha");
    expect(alpha?.x_odyssai.ready).toBe(false);
    expect((await listModels(server)).map((model) => model.id)).toEqual(["boot"]);

    const twice = await json<ModelView>(await post(server, "/admin/models/unload", { model: "alpha" }));
    expect(twice).toMatchObject({ state: "unloaded", was_loaded: false });
  });

  test("unknown ids are 404 model_not_found; an unloadable directory is 400 model_unloadable", async () => {
    const error = await expectError(
      await post(server, "/admin/models/load", { model: "nope" }),
      404,
      "model",
      "model_not_found",
    );
    expect(error.message).toContain("alpha");
    await expectError(await post(server, "/admin/models/unload", { model: "nope" }), 404, "model", "model_not_found");
    const broken = await expectError(
      await post(server, "/admin/models/load", { model: "broken" }),
      400,
      "model",
      "model_unloadable",
    );
    expect(broken.message).toContain("model_type");
    expect(await workers(server)).toBe(1);
  });

  test("bad bodies are 400 naming the field", async () => {
    const missing = await expectError(await post(server, "/admin/models/load", {}), 400, "model");
    expect(missing.message).toContain("'model'");
    await expectError(await post(server, "/admin/models/load", { model: 5 }), 400, "model");
    await expectError(await post(server, "/admin/models/unload", { model: "" }), 400, "model");
    await expectError(await post(server, "/admin/models/load", { model: "alpha", force: true }), 400, "force");
    const notJson = await post(server, "/admin/models/load", "{model:");
    expect(notJson.status).toBe(400);
    expect(await workers(server)).toBe(1);
  });

  test("unloading under a running stream cancels it: an in-band 503 model_unloaded, no [DONE], the Worker freed", async () => {
    expect((await post(server, "/admin/models/load", { model: "beta" })).status).toBe(200);
    const response = await chat(server, "beta", { max_tokens: 4000, stream: true });
    expect(response.status).toBe(200);
    const frames: string[] = [];
    const reading = (async () => {
      for await (const event of parseSSE(response.body!)) frames.push(event.data);
    })();
    expect(await eventually(async () => frames.length >= 3, 30)).toBe(true);
    expect((await stateOf(server, "beta")).in_flight).toBe(1);

    const unloaded = await post(server, "/admin/models/unload", { model: "beta" });
    expect(unloaded.status).toBe(200);
    expect(await json<ModelView>(unloaded)).toMatchObject({ state: "unloaded", was_loaded: true });
    await reading;
    expect(frames.at(-1)).toBe("[DONE]"); // after the error, in both shapes (§9 #27)
    const last = JSON.parse(frames.at(-3)!) as ErrorBody;
    expect(JSON.parse(frames.at(-2)!)).toEqual({ error: last.error.message });
    expect(last.error).toMatchObject({ code: "model_unloaded", param: "model" });
    expect(frames.length).toBeLessThan(4000);
    expect(await workers(server)).toBe(1);
    expect(await stateOf(server, "beta")).toMatchObject({ state: "unloaded", in_flight: 0 });
  });

  test("a non-stream request running when its model is unloaded gets 503 model_unloaded", async () => {
    expect((await post(server, "/admin/models/load", { model: "beta" })).status).toBe(200);
    const pending = chat(server, "beta", { max_tokens: 4000 });
    expect(await eventually(async () => (await stateOf(server, "beta")).in_flight === 1, 30)).toBe(true);
    expect((await post(server, "/admin/models/unload", { model: "beta" })).status).toBe(200);
    const response = await pending;
    await expectError(response, 503, "model", "model_unloaded");
    expect(await workers(server)).toBe(1);
  });
});

describe("memory fit and load on demand", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    // Each tiny model reserves ~0.53 MiB of weights + 1 MiB KV: one fits in 2 MiB, two do not.
    server = await startIthaca({
      models: [{ id: "boot", path: bootDir }],
      engine: { models_dir: inventory, memory: { budget_bytes: "2MiB", kv_reserve_bytes: MiB } },
    });
  });
  afterAll(() => server?.close());

  test("a load that does not fit is refused with 400 model_too_large before any Worker starts", async () => {
    const error = await expectError(
      await post(server, "/admin/models/load", { model: "alpha" }),
      400,
      "model",
      "model_too_large",
    );
    expect(error.message).toMatch(
      /^model 'alpha' needs [\d.]+ MiB .* but only [\d.]+ KiB of the 2\.00 MiB budget is free \(loaded: boot\)/,
    );
    expect(await workers(server)).toBe(1);
    expect((await stateOf(server, "alpha")).state).toBe("unloaded");
    const { memory } = await adminModels(server);
    expect(memory.budget_bytes).toBe(2 * MiB);
  });

  test("a request naming an unloaded model that does not fit gets the same 400; nothing starts", async () => {
    await expectError(await chat(server, "alpha"), 400, "model", "model_too_large");
    expect(await workers(server)).toBe(1);
  });

  test("an invalid request for an unloaded model is refused without loading it", async () => {
    expect((await post(server, "/admin/models/unload", { model: "boot" })).status).toBe(200);
    await expectError(await chat(server, "alpha", { n: 2 }), 400, "n");
    await expectError(await chat(server, "alpha", { logit_bias: { "99999": 1 } }), 400, "logit_bias");
    expect(await workers(server)).toBe(0);
    expect((await stateOf(server, "alpha")).state).toBe("unloaded");
  });

  test("once memory is freed, a request loads the model on demand and is answered", async () => {
    expect(await workers(server)).toBe(0);
    const response = await chat(server, "alpha");
    expect(response.status).toBe(200);
    expect((await json<{ model: string }>(response)).model).toBe("alpha");
    expect(await stateOf(server, "alpha")).toMatchObject({ state: "loaded", source: "inventory" });
    expect(await workers(server)).toBe(1);
    // Concurrent on-demand requests for a model that is not loaded share one load.
    expect((await post(server, "/admin/models/unload", { model: "alpha" })).status).toBe(200);
    const answers = await Promise.all([chat(server, "alpha"), chat(server, "alpha"), chat(server, "alpha")]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await workers(server)).toBe(1);
    // The configured model is now the one that does not fit.
    await expectError(await chat(server, "boot"), 400, "model", "model_too_large");
  });
});

test("configured models load at boot even over the budget (with a warning) and count against it", async () => {
  const server = await startIthaca({
    models: [{ id: "boot", path: bootDir }],
    engine: { models_dir: inventory, memory: { budget_bytes: 1024 } },
  });
  try {
    expect(await stateOf(server, "boot")).toMatchObject({ state: "loaded", source: "config" });
    const { memory } = await adminModels(server);
    expect(memory).toMatchObject({ budget_bytes: 1024, free_bytes: 0 });
    expect(memory.reserved_bytes).toBeGreaterThan(1024);
    await expectError(await post(server, "/admin/models/load", { model: "beta" }), 400, "model", "model_too_large");
    expect(await workers(server)).toBe(1);
  } finally {
    await server.close();
  }
});

describe("idle TTL", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca({ engine: { models_dir: inventory, idle_ttl_s: 1 } });
  });
  afterAll(() => server?.close());

  test("a model loaded on demand is unloaded after being idle, never while a request is in flight", async () => {
    const client = new AbortController();
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "alpha", messages: MESSAGES, max_tokens: 4000, stream: true }),
      signal: client.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read();
    // The stream runs for well over the TTL (4000 tokens): the model must stay loaded meanwhile.
    for (let i = 0; i < 5; i++) {
      await Bun.sleep(500);
      expect(await stateOf(server, "alpha")).toMatchObject({ state: "loaded", in_flight: 1 });
    }
    client.abort();
    await reader.cancel().catch(() => {});
    expect(await eventually(async () => (await stateOf(server, "alpha")).state === "unloaded", 15)).toBe(true);
    expect(await workers(server)).toBe(0);
    expect((await stateOf(server, "alpha")).last_used_at).not.toBeNull();
    // And it loads again on demand.
    expect((await chat(server, "alpha")).status).toBe(200);
  });
});

describe("admin auth", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca(
      { auth: { api_keys: ["client-key"] }, engine: { models_dir: inventory } },
      { env: { ITHACA_ADMIN_TOKEN: "admin-secret" } },
    );
  });
  afterAll(() => server?.close());

  test("/admin/models* needs the admin token; an API key is not enough", async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer client-key" },
      { authorization: "Bearer wrong" },
    ];
    for (const headers of attempts) {
      expect((await fetch(`${server.url}/admin/models`, { headers })).status).toBe(401);
      const load = await post(server, "/admin/models/load", { model: "alpha" }, headers);
      expect(load.status).toBe(401);
      expect((await json<ErrorBody>(load)).error.code).toBe("invalid_admin_token");
      expect((await post(server, "/admin/models/unload", { model: "alpha" }, headers)).status).toBe(401);
    }
    expect(await workers(server)).toBe(0);
    const admin = { authorization: "Bearer admin-secret" };
    expect((await adminModels(server, admin)).data.map((model) => model.id)).toEqual([
      "alpha",
      "beta",
      "broken",
      "same-as-boot",
    ]);
    const load = await post(server, "/admin/models/load", { model: "alpha" }, admin);
    expect(load.status).toBe(200);
    expect(await workers(server)).toBe(1);
    expect((await post(server, "/admin/models/unload", { model: "alpha" }, admin)).status).toBe(200);
  });
});
