/**
 * The discovery surface (contract, /v1/models with x_odyssai, Swagger), auth on and off, and the session id reaching
 * the backend. Real HTTP against a real Ithaca whose upstream is a recording OpenAI-wire server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

let upstream: FakeUpstream;

beforeAll(() => {
  upstream = new FakeUpstream({ models: ["mlx-community/Qwen3-0.6B-4bit"], telemakContract: true });
});
afterAll(() => upstream.stop());

const upstreams = () => [{ id: "telemak1", kind: "openai-http", base_url: upstream.baseUrl, label: "Studio" }];

describe("open mode", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca({ upstreams: upstreams() });
  });
  afterAll(() => server.close());

  test("the contract: OdyssAI-X fields Companion matches plus the Telemak shape, from the catalog", async () => {
    const response = await fetch(`${server.url}/.well-known/inference-engine.json`);
    expect(response.status).toBe(200);
    const contract = (await response.json()) as Record<string, any>;
    expect(contract.vendor).toBe("odyssai.eu");
    expect(contract.name).toBe("Ithaca");
    expect(typeof contract.version).toBe("string");
    expect(contract.api_compat).toEqual(["openai/v1", "anthropic/v1"]);
    expect(contract.auth).toMatchObject({ required: false, scheme: "bearer", admin_required: false });
    expect(contract.auth.public_routes).toContain("/.well-known/*");
    expect(contract.features).toContain("cloud-passthrough");
    expect(contract.features).toContain("sse-streaming");
    expect(contract.features).toContain("tool-calling"); // the upstream's contract says tools: true
    expect(contract.extensions.x_odyssai.fields).toContain("supports_tools");
    expect(contract.engine).toBe("ithaca");
    expect(contract.capabilities).toMatchObject({
      stream: true,
      tools: true,
      vision: false,
      openai_compat: "v1",
      anthropic_compat: "v1", // /v1/messages is served in front of every backend
    });
    expect(contract.models).toEqual([
      {
        id: "telemak1:qwen3-0.6b-4bit",
        ready: true,
        backend: "openai-http",
        context_length: null,
        capabilities: ["tools"],
      },
    ]);
  });

  test("/v1/models: the OpenAI list with the x_odyssai block", async () => {
    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { object: string; data: any[] };
    expect(list.object).toBe("list");
    expect(list.data).toHaveLength(1);
    const [entry] = list.data;
    expect(entry).toMatchObject({
      id: "telemak1:qwen3-0.6b-4bit",
      object: "model",
      owned_by: "odyssai-telemak1",
      root: "mlx-community/Qwen3-0.6B-4bit",
      x_concrete: "mlx-community/Qwen3-0.6B-4bit",
    });
    expect(entry.x_odyssai).toMatchObject({
      ready: true,
      loaded: true,
      kind: "telemak",
      backend: "http-proxy",
      pool: "telemak1",
      cluster_label: "Studio",
      alias_for: "mlx-community/Qwen3-0.6B-4bit",
      quantization: "4bit",
      supports_tools: true,
      supports_vision: false,
      supports_json_mode: false, // nothing enforces response_format yet: tools support does not imply it
      supports_streaming: true,
      tools: true,
      stream: true,
      upstream: upstream.baseUrl,
      short_id: "qwen3-0.6b-4bit",
    });
    expect(entry.x_odyssai.aliases).toEqual(["mlx-community/Qwen3-0.6B-4bit", "telemak1"]);
  });

  test("an upstream whose contract says it is a Telemak gets a max_tokens cap (§9 #19)", async () => {
    await fetch(`${server.url}/v1/models`); // the catalog has probed the contract
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    await client.chat.completions.create({ model: "telemak1", messages: [{ role: "user", content: "hi" }] });
    expect(upstream.last.body.max_tokens).toBe(4096);
  });

  test("the openai SDK lists the same models", async () => {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused" });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(["telemak1:qwen3-0.6b-4bit"]);
  });

  test("/swagger serves the UI and /swagger/json documents the chat request schema", async () => {
    const html = await fetch(`${server.url}/swagger`);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toContain("text/html");
    expect(await html.text()).toContain("swagger-ui");
    const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as Record<string, any>;
    const operation = spec.paths["/v1/chat/completions"].post;
    const schema = operation.requestBody.content["application/json"].schema;
    expect(schema.required).toEqual(expect.arrayContaining(["model", "messages"]));
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["messages", "temperature", "tools", "stop", "seed", "session_id", "enable_thinking"]),
    );
    expect(spec.paths["/v1/models"]).toBeDefined();
    expect(spec.paths["/health"]).toBeDefined();
  });

  test("/health: status, uptime, per-backend counters", async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, any>;
    expect(health.status).toBe("ok");
    expect(typeof health.uptime_s).toBe("number");
    expect(health.backends["upstream:telemak1"]).toMatchObject({ kind: "openai-http", requests: expect.any(Number) });
  });

  test("session id: the X-Session-Id header wins over the body field, and reaches the upstream", async () => {
    const send = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ model: "telemak1", messages: [{ role: "user", content: "hi" }], ...body }),
      });

    // A Telemak is sent the client's id with a suffix of Ithaca's, renewed when a history diverges (§9 #29).
    expect((await send({ session_id: "from-body" })).status).toBe(200);
    expect(upstream.last.body.session_id).toMatch(/^from-body~/);
    expect(upstream.last.headers.get("x-session-id")).toBe(String(upstream.last.body.session_id));

    expect((await send({ session_id: "from-body" }, { "x-session-id": "from-header" })).status).toBe(200);
    expect(upstream.last.body.session_id).toMatch(/^from-header~/);

    expect((await send({}, { "X-Session-Id": "header-only" })).status).toBe(200);
    expect(upstream.last.body.session_id).toMatch(/^header-only~/);

    expect((await send({})).status).toBe(200);
    expect(upstream.last.body.session_id).toBeUndefined();
    expect(upstream.last.headers.get("x-session-id")).toBeNull();
  });
});

describe("auth on", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca({ upstreams: upstreams(), auth: { api_keys: ["sk-one", "sk-two"] } });
  });
  afterAll(() => server.close());

  const models = (headers: Record<string, string>) => fetch(`${server.url}/v1/models`, { headers });

  test("no key: 401 in the OpenAI shape with WWW-Authenticate", async () => {
    const response = await models({});
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    expect(await response.json()).toEqual({
      error: {
        message: "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        type: "invalid_request_error",
        param: null,
        code: "missing_api_key",
      },
    });
  });

  test("wrong key: 401 invalid_api_key (Bearer and x-api-key)", async () => {
    const attempts: Record<string, string>[] = [
      { authorization: "Bearer sk-nope" },
      { "x-api-key": "sk-one-but-longer" },
    ];
    for (const headers of attempts) {
      const response = await models(headers);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    }
  });

  test("a key is accepted as Bearer and as x-api-key", async () => {
    expect((await models({ authorization: "Bearer sk-one" })).status).toBe(200);
    expect((await models({ authorization: "bearer sk-two" })).status).toBe(200);
    expect((await models({ "x-api-key": "sk-two" })).status).toBe(200);
  });

  test("a chat request without a key is refused before its body is read", async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: "{not even json" });
    expect(response.status).toBe(401);
  });

  test("the openai SDK works with the key and fails cleanly without", async () => {
    const good = new OpenAI({ baseURL: server.baseURL, apiKey: "sk-one" });
    const completion = await good.chat.completions.create({
      model: "telemak1",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from the fake upstream");
    const bad = new OpenAI({ baseURL: server.baseURL, apiKey: "sk-wrong", maxRetries: 0 });
    const error = await bad.models.list().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  test("public routes stay open; the contract says auth is required", async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/swagger/json`)).status).toBe(200);
    const contract = (await (await fetch(`${server.url}/.well-known/inference-engine.json`)).json()) as Record<
      string,
      any
    >;
    expect(contract.auth.required).toBe(true);
  });

  test("/admin/* without an admin token configured is closed, even to API keys", async () => {
    server.ithaca.app.get("/admin/ping", () => "pong");
    const response = await fetch(`${server.url}/admin/ping`, { headers: { authorization: "Bearer sk-one" } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("admin_disabled");
  });
});

describe("admin token", () => {
  let server: RunningIthaca;
  beforeAll(async () => {
    server = await startIthaca(
      { auth: { api_keys: ["sk-one"], admin_token_env: "TEST_ADMIN" } },
      { env: { TEST_ADMIN: "adm-secret" } },
    );
    server.ithaca.app.get("/admin/ping", ({ caller }) => caller.role);
  });
  afterAll(() => server.close());

  test("/admin/* needs the admin token; API keys are not enough", async () => {
    const ping = (headers: Record<string, string>) => fetch(`${server.url}/admin/ping`, { headers });
    expect((await ping({})).status).toBe(401);
    expect((await ping({ authorization: "Bearer sk-one" })).status).toBe(401);
    const ok = await ping({ authorization: "Bearer adm-secret" });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("admin");
    // The admin token never serves /v1/* (issue 13: it is for the admin API only).
    const v1 = await fetch(`${server.url}/v1/models`, { headers: { "x-api-key": "adm-secret" } });
    expect(v1.status).toBe(401);
    expect(((await v1.json()) as { error: { code: string } }).error.code).toBe("admin_token_not_for_inference");
  });
});
