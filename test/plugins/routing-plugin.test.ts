/**
 * Routing: the catalog's candidates for replicas and ambiguous aliases, and the example routing plugin
 * (plugins/examples/tools-need-support.ts) loaded from the configuration as a user would. The built-in
 * session-affinity policy: test/routing/session-affinity.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Backend, BackendModel } from "../../src/backends/backend.ts";
import { resolveCandidates, type CatalogEntry } from "../../src/catalog/catalog.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

function entry(backendId: string, model: Partial<BackendModel> & { id: string }): CatalogEntry {
  const backend = { id: backendId, kind: "openai-http" } as Backend;
  return { backend, model: { upstreamId: model.id, ready: true, ...model } };
}

describe("catalog resolution", () => {
  const entries = [
    entry("local", { id: "demo", aliases: ["tiny"] }),
    entry("upstream:a", { id: "a:qwen3", upstreamId: "org/Qwen3", aliases: ["org/Qwen3", "a", "shared"] }),
    entry("upstream:b", { id: "b:qwen3", upstreamId: "org/Qwen3", aliases: ["org/Qwen3", "b"] }),
    entry("upstream:c", { id: "c:llama", upstreamId: "org/Llama", aliases: ["org/Llama", "shared"] }),
  ];
  const ids = (requested: string) => resolveCandidates(entries, requested).map((found) => found.model.id);

  test("an id wins, case-insensitively", () => {
    expect(ids("demo")).toEqual(["demo"]);
    expect(ids("A:QWEN3")).toEqual(["a:qwen3"]);
  });

  test("an alias shared by replicas of one model gives every replica", () => {
    expect(ids("org/qwen3")).toEqual(["a:qwen3", "b:qwen3"]);
    expect(ids("tiny")).toEqual(["demo"]);
  });

  test("an alias naming different models is ambiguous", () => {
    expect(() => resolveCandidates(entries, "shared")).toThrow(OpenAIError);
    try {
      resolveCandidates(entries, "shared");
    } catch (error) {
      expect((error as OpenAIError).status).toBe(400);
      expect((error as OpenAIError).code).toBe("model_ambiguous");
    }
  });

  test("unknown: 404 listing the ids", () => {
    expect(() => resolveCandidates(entries, "nope")).toThrow(
      "The model 'nope' does not exist. Available: demo, a:qwen3, b:qwen3, c:llama",
    );
  });
});

describe("the tools-need-support example plugin", () => {
  // r0 publishes no capabilities; r1 serves a Telemak contract declaring tools. r0 also serves a model alone.
  const replicas = [
    new FakeUpstream({ models: ["org/Qwen3-4B", "org/Plain-1B"] }),
    new FakeUpstream({ models: ["org/Qwen3-4B"], telemakContract: true }),
  ];
  let server: RunningIthaca;

  beforeAll(async () => {
    server = await startIthaca({
      upstreams: replicas.map((replica, index) => ({
        id: `r${index}`,
        kind: "openai-http",
        base_url: replica.baseUrl,
      })),
      plugins: ["plugins/examples/tools-need-support.ts"],
    });
  });
  afterAll(async () => {
    await server.close();
    for (const replica of replicas) replica.stop();
  });

  const weather = [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: {} } } }];

  /** Sends one request; returns the status and the index of the replica that got it (-1: none). */
  async function send(model: string, tools?: unknown[]): Promise<{ status: number; replica: number }> {
    const counts = replicas.map((replica) => replica.requests.length);
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...(tools ? { tools } : {}) }),
    });
    await response.arrayBuffer();
    const replica = replicas.findIndex((upstream, index) => upstream.requests.length > (counts[index] ?? 0));
    return { status: response.status, replica };
  }

  test("it is registered after the built-in session affinity", () => {
    expect(server.ithaca.router.policyNames()).toEqual(["session-affinity", "tools-need-support"]);
  });

  test("requests with tools go to the replica that supports them; others keep the catalog order", async () => {
    expect(await send("org/Qwen3-4B", weather)).toEqual({ status: 200, replica: 1 });
    expect(await send("org/Qwen3-4B", weather)).toEqual({ status: 200, replica: 1 });
    expect(await send("org/Qwen3-4B")).toEqual({ status: 200, replica: 0 });
    expect(await send("org/Qwen3-4B", [])).toEqual({ status: 200, replica: 0 });
  });

  test("no replica supports tools: 400 naming the parameter, nothing sent upstream", async () => {
    const counts = replicas.map((replica) => replica.requests.length);
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "r0:plain-1b", messages: [{ role: "user", content: "hi" }], tools: weather }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe("tools");
    expect(replicas.map((replica) => replica.requests.length)).toEqual(counts);
  });
});

describe("policies", () => {
  let upstream: FakeUpstream;
  let server: RunningIthaca;
  beforeAll(async () => {
    upstream = new FakeUpstream({ models: ["m"] });
    server = await startIthaca({ upstreams: [{ id: "u", kind: "openai-http", base_url: upstream.baseUrl }] });
    server.ithaca.router.registerPolicy({
      name: "no-tools",
      select(candidates, { body }) {
        if (Array.isArray(body.tools))
          throw new OpenAIError(403, "tools are not allowed here", { param: "tools", code: "tools_refused" });
        return candidates;
      },
    });
  });
  afterAll(async () => {
    await server.close();
    upstream.stop();
  });

  test("a policy can refuse with its own status in the OpenAI shape", async () => {
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "u", messages: [{ role: "user", content: "hi" }], tools: [] }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("tools_refused");
  });

  test("registering the same name twice is an error", () => {
    expect(() => server.ithaca.router.registerPolicy({ name: "no-tools", select: (candidates) => candidates })).toThrow(
      "already registered",
    );
  });
});
