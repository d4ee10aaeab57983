/**
 * Several requests to one model (issue 3 item 5): fair interleaving means a short request finishes while a long one
 * is still decoding, each request's greedy output is the same as when it runs alone (separate KV caches), a full
 * queue is refused synchronously with EngineBusyError (the HTTP layer's 503 + Retry-After), and a request cancelled
 * while waiting ends without tokens. No MLX array outlives its request.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EngineBusyError, EngineClient, type GenerationEvent } from "../../src/engine/client.ts";
import { arraysInUse, engineLimits, generateParams } from "../helpers/engine.ts";
import { makeModel } from "../helpers/paths.ts";

const params = (content: string, max_tokens: number) =>
  generateParams({ messages: [{ role: "user", content }], max_tokens });

/** Drains a generation, recording the time order of its completion in `finished`. */
async function collect(name: string, events: AsyncIterable<GenerationEvent>, finished: string[]) {
  let text = "";
  let done: Extract<GenerationEvent, { type: "done" }> | undefined;
  for await (const e of events) {
    if (e.type === "delta") text += e.delta.content ?? "";
    if (e.type === "done") done = e;
  }
  finished.push(name);
  return { text, done };
}

let dir: string;
beforeAll(() => {
  dir = makeModel("qwen3", { seed: 21 });
});

describe("interleaving (max_active 2)", () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ id: "m", path: dir }, engineLimits({ maxActive: 2, maxQueue: 4 }));
  });
  afterAll(() => engine.close());

  test("a short request finishes while a long one is still running, and both outputs equal their solo runs", async () => {
    const order: string[] = [];
    const soloLong = await collect("solo", engine.generate(params("Tell me a very long story about ships.", 300)), []);
    const soloShort = await collect("solo", engine.generate(params("Say hi.", 6)), []);
    const baseline = await arraysInUse(engine);

    const long = collect("long", engine.generate(params("Tell me a very long story about ships.", 300)), order);
    await Bun.sleep(20);
    const short = collect("short", engine.generate(params("Say hi.", 6)), order);
    const [l, s] = await Promise.all([long, short]);

    expect(order).toEqual(["short", "long"]);
    expect(l.done!.usage.completion_tokens).toBe(soloLong.done!.usage.completion_tokens);
    expect(l.text).toBe(soloLong.text);
    expect(s.text).toBe(soloShort.text);
    expect(s.done!.finishReason).toBe(soloShort.done!.finishReason);
    expect(await arraysInUse(engine)).toBe(baseline);
  });
});

describe("bounded queue (max_active 1, max_queue 1)", () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ id: "m", path: dir }, engineLimits({ maxActive: 1, maxQueue: 1 }));
  });
  afterAll(() => engine.close());

  test("a third request is refused with EngineBusyError; a waiting request can be cancelled; capacity comes back", async () => {
    const baseline = await arraysInUse(engine);
    const order: string[] = [];
    const running = new AbortController();
    const waiting = new AbortController();
    const first = collect("first", engine.generate(params("Count to a thousand.", 2000), running.signal), order);
    const second = collect("second", engine.generate(params("Say hi.", 4), waiting.signal), order);
    expect(engine.inFlight).toBe(2);

    let busy: unknown;
    try {
      engine.generate(params("One more?", 4));
    } catch (err) {
      busy = err;
    }
    expect(busy).toBeInstanceOf(EngineBusyError);
    expect((busy as EngineBusyError).status).toBe(503);
    expect((busy as EngineBusyError).retryAfterS).toBeGreaterThan(0);

    waiting.abort();
    const s = await second;
    expect(s.done!.finishReason).toBe("cancelled");
    expect(s.text).toBe("");
    expect(s.done!.usage.completion_tokens).toBe(0);
    running.abort();
    expect((await first).done!.finishReason).toBe("cancelled");

    expect(engine.inFlight).toBe(0);
    const again = await collect("again", engine.generate(params("Say hi.", 4)), order);
    expect(again.done!.usage.completion_tokens).toBe(4);
    const stats = await engine.stats();
    expect(stats.liveArrays - stats.prefixCache.arrays).toBe(baseline);
    expect(stats.active + stats.queued).toBe(0);
  });
});
