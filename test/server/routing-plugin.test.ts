/**
 * Routing: the catalog's candidates for replicas and ambiguous aliases, and the example routing plugin
 * (plugins/examples/session-affinity.ts) loaded from the configuration as a user would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Backend, BackendModel } from "../../src/backends/backend.ts";
import { resolveCandidates, type CatalogEntry } from "../../src/catalog/catalog.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";
import { FakeUpstream } from "../upstream/fake-upstream.ts";
import { startIthaca, type RunningIthaca } from "./start.ts";

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

describe("the session-affinity example plugin", () => {
  const replicas = [new FakeUpstream({ models: ["org/Qwen3-4B"] }), new FakeUpstream({ models: ["org/Qwen3-4B"] })];
  let server: RunningIthaca;

  beforeAll(async () => {
    server = await startIthaca({
      upstreams: replicas.map((replica, index) => ({
        id: `r${index}`,
        kind: "openai-http",
        base_url: replica.baseUrl,
      })),
      plugins: ["plugins/examples/session-affinity.ts"],
    });
  });
  afterAll(async () => {
    await server.close();
    for (const replica of replicas) replica.stop();
  });

  /** Sends one request for the bare model id; returns the index of the replica that got it. */
  async function send(sessionId?: string): Promise<number> {
    const counts = replicas.map((replica) => replica.requests.length);
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(sessionId ? { "x-session-id": sessionId } : {}) },
      body: JSON.stringify({ model: "org/Qwen3-4B", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    return replicas.findIndex((replica, index) => replica.requests.length > (counts[index] ?? 0));
  }

  test("it is registered with the router", () => {
    expect(server.ithaca.router.policyNames()).toEqual(["session-affinity"]);
  });

  test("a conversation stays on one replica; conversations spread over both", async () => {
    const placement = new Map<string, number>();
    for (let index = 0; index < 16; index++)
      placement.set(`conversation-${index}`, await send(`conversation-${index}`));
    expect(new Set(placement.values())).toEqual(new Set([0, 1]));
    for (const [sessionId, replica] of placement) expect(await send(sessionId)).toBe(replica);
  });

  test("without a session id the catalog order stands", async () => {
    expect(await send()).toBe(0);
    expect(await send()).toBe(0);
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
