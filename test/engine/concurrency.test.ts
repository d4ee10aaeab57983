/**
 * Several requests to one model (issue 3 item 5, issue 16 item 1): requests decode together in one batch, so a short
 * request finishes while a long one is still decoding, and each request's greedy output is the same as when it runs
 * alone (its own KV cache rows, positions and mask; batch-vs-solo.test.ts covers float-level divergence); a full
 * queue is refused synchronously with EngineBusyError (the HTTP layer's 503 + Retry-After), and a request cancelled
 * while waiting ends without tokens. Under load (8 decoding at once, more queued, a third cancelled mid-stream, with
 * sampling, penalties, logprobs, stop strings and sessions mixed) a cancelled request stops within a step, the others
 * finish, fewer forward passes than tokens run, and no MLX array outlives its request.
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

describe("two requests decoding together (max_active 2)", () => {
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

describe("continuous batching under load (max_active 8)", () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ id: "m", path: dir }, engineLimits({ maxActive: 8, maxQueue: 32 }));
  });
  afterAll(() => engine.close());

  /** Request `i` of the load: each row of the batch with its own parameters. */
  const loadParams = (i: number) =>
    generateParams({
      messages: [{ role: "user", content: `Request ${i}: ${"tell me about the sea ".repeat(1 + (i % 5))}` }],
      max_tokens: 24 + (i % 4) * 16,
      temperature: i % 3 === 1 ? 0.8 : 0,
      seed: i,
      // Cancelled requests (i % 3 === 0) count their tokens by their logprobs: one entry per token.
      logprobs: i % 4 === 2 || i % 3 === 0,
      top_logprobs: i % 4 === 2 ? 3 : 0,
      frequency_penalty: i % 5 === 3 ? 0.5 : 0,
      stop: i % 6 === 5 ? ["ship"] : [],
      session_id: i % 7 === 0 ? `s${i % 2}` : undefined,
    });

  test("24 concurrent requests, a third cancelled mid-stream: each cancel within a step, no leaked arrays", async () => {
    const baseline = await arraysInUse(engine);
    const before = await engine.stats();
    const runs = Array.from({ length: 24 }, async (_, i) => {
      const ac = new AbortController();
      const cancel = i % 3 === 0;
      let seen = 0;
      let seenAtAbort = -1;
      let done: Extract<GenerationEvent, { type: "done" }> | undefined;
      for await (const e of engine.generate(loadParams(i), ac.signal)) {
        if (e.type === "delta") seen += e.logprobs?.length ?? 0;
        if (cancel && e.type === "delta" && seenAtAbort < 0 && seen >= 2) {
          seenAtAbort = seen;
          ac.abort();
        }
        if (e.type === "done") done = e;
      }
      return { cancel, seenAtAbort, done: done! };
    });
    const results = await Promise.all(runs);
    expect(results.filter((r) => r.cancel && r.seenAtAbort >= 0).length).toBeGreaterThanOrEqual(6);
    for (const r of results) {
      if (r.cancel && r.seenAtAbort >= 0) {
        expect(r.done.finishReason).toBe("cancelled");
        // Tokens generated after the client aborted: the step in flight and deltas already on their way, no more.
        expect(r.done.usage.completion_tokens - r.seenAtAbort).toBeLessThanOrEqual(4);
      } else {
        expect(["stop", "length"]).toContain(r.done.finishReason);
      }
    }
    const stats = await engine.stats();
    const generated = stats.generatedTokens - before.generatedTokens;
    // Batched: the decoding requests share forward passes.
    expect(stats.decodeSteps - before.decodeSteps).toBeLessThan(generated / 2);
    expect(stats.liveArrays - stats.prefixCache.arrays).toBe(baseline);
    expect(stats.active + stats.queued).toBe(0);
  }, 120_000);
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
