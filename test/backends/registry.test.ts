/**
 * Backends added and removed while the server runs, under load: two replicas of one upstream model behind a real
 * Ithaca; while clients stream and call without pause, a replica is removed (its streams in flight finish, new
 * requests go to the other) and added back, and a third upstream joins and leaves. No request fails, and the catalog
 * follows each change at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOpenAIHttpBackend } from "../../src/backends/openai/backend.ts";
import { BackendRegistry } from "../../src/backends/registry.ts";
import { REPO_ROOT, resolveConfig } from "../../src/config/load.ts";
import type { UpstreamConfig } from "../../src/config/schema.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";

const MODEL = "org/shared-model";
let one: FakeUpstream;
let two: FakeUpstream;
let three: FakeUpstream;
let server: RunningIthaca;

/** A resolved upstream config, as enrolment would build it. */
function upstreamConfig(id: string, baseUrl: string, model = MODEL): UpstreamConfig {
  const config = resolveConfig(
    { models: [], upstreams: [{ id, base_url: baseUrl, models: [model] }] },
    { baseDir: REPO_ROOT, env: {}, source: "test" },
  );
  return config.upstreams[0] as UpstreamConfig;
}

beforeAll(async () => {
  one = new FakeUpstream({ models: [MODEL], streamChunks: 5, chunkDelayMs: 5 });
  two = new FakeUpstream({ models: [MODEL], streamChunks: 40, chunkDelayMs: 10 });
  three = new FakeUpstream({ models: ["other-model"], streamChunks: 3 });
  server = await startIthaca({
    upstreams: [
      { id: "one", base_url: one.baseUrl, models: [MODEL] },
      { id: "two", base_url: two.baseUrl, models: [MODEL] },
    ],
  });
});

afterAll(async () => {
  await server.close();
  for (const upstream of [one, two, three]) upstream.stop();
});

/** One request to `model`; resolves to its status and whether a stream ended with `[DONE]`. */
async function call(model: string, stream: boolean): Promise<{ status: number; complete: boolean }> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
  });
  const text = await response.text();
  return { status: response.status, complete: stream ? text.includes("data: [DONE]") : text.includes('"choices"') };
}

/** `workers` clients calling the shared model back to back until `until` resolves; every result kept. */
async function load(workers: number, until: Promise<unknown>): Promise<Array<{ status: number; complete: boolean }>> {
  let done = false;
  void until.finally(() => (done = true));
  const results: Array<{ status: number; complete: boolean }> = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; !done && i < 400; i++) results.push(await call(MODEL, (i + worker) % 2 === 0));
    }),
  );
  return results;
}

const servedIds = async () =>
  ((await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

describe("backend registry at runtime", () => {
  test("a replica removed and added back, and an upstream joining and leaving, under load: nothing fails", async () => {
    const { registry } = server.ithaca;
    const changes = (async () => {
      await Bun.sleep(100);
      // A stream on the slow replica, in flight while that replica is removed.
      const inFlight = fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "two:shared-model", stream: true, messages: [{ role: "user", content: "hi" }] }),
      }).then((response) => response.text());
      await Bun.sleep(50);
      const removed = registry.remove("upstream:two");
      expect(await servedIds()).not.toContain("two:shared-model");
      expect(await inFlight).toContain("data: [DONE]");
      expect(await removed).toBe(true);

      registry.add(createOpenAIHttpBackend(upstreamConfig("three", three.baseUrl, "other-model")));
      expect(await servedIds()).toContain("three:other-model");
      expect(await call("three:other-model", true)).toEqual({ status: 200, complete: true });
      await registry.remove("upstream:three");
      expect(await servedIds()).not.toContain("three:other-model");
      expect((await call("three:other-model", false)).status).toBe(404);

      registry.add(createOpenAIHttpBackend(upstreamConfig("two", two.baseUrl)));
      expect(await servedIds()).toContain("two:shared-model");
      await Bun.sleep(100);
    })();
    const results = await load(4, changes);
    await changes;
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((r) => r.status !== 200 || !r.complete)).toEqual([]);
    // Both replicas answered some of the load (affinity or order picks one, the other after removal).
    expect(one.requests.length).toBeGreaterThan(0);
  });

  test("ids are unique, removal of an unknown id is false, listeners hear every change", async () => {
    const registry = new BackendRegistry();
    let heard = 0;
    const stop = registry.onChange(() => heard++);
    const backend = createOpenAIHttpBackend(upstreamConfig("solo", three.baseUrl));
    registry.add(backend);
    expect(() => registry.add(backend)).toThrow("already registered");
    expect(registry.get("upstream:solo")).toBe(backend);
    expect(await registry.remove("upstream:nope")).toBe(false);
    expect(await registry.remove("upstream:solo")).toBe(true);
    expect(registry.list()).toEqual([]);
    expect(heard).toBe(2);
    stop();
    await registry.close();
  });
});
