/**
 * The engine Worker through its main-thread client: streaming, stop strings, seeds, cancellation within a step,
 * load errors, and no leaked MLX arrays after many requests (cancelled ones included).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EngineClient, type GenerationEvent } from "../../src/engine/client.ts";
import { arraysInUse, engineLimits, generateParams } from "../helpers/engine.ts";
import { makeModel, tempDir } from "../helpers/paths.ts";

let engine: EngineClient;

async function collect(it: AsyncIterable<GenerationEvent>) {
  let text = "";
  let done: Extract<GenerationEvent, { type: "done" }> | undefined;
  let error: Extract<GenerationEvent, { type: "error" }> | undefined;
  for await (const e of it) {
    if (e.type === "delta") text += e.delta.content ?? "";
    if (e.type === "done") done = e;
    if (e.type === "error") error = e;
  }
  return { text, done, error };
}

beforeAll(async () => {
  engine = await EngineClient.start({ id: "tiny", path: makeModel("qwen3", { seed: 3 }) }, engineLimits());
});
afterAll(() => engine.close());

describe("engine worker", () => {
  test("reports model info after loading", () => {
    expect(engine.info.arch).toBe("qwen3");
    expect(engine.info.nbytes).toBeGreaterThan(0);
  });

  test("greedy generation is deterministic and counts tokens", async () => {
    const a = await collect(engine.generate(generateParams()));
    const b = await collect(engine.generate(generateParams()));
    expect(a.text.length).toBeGreaterThan(0);
    expect(a.text).toBe(b.text);
    expect(a.done!.usage.prompt_tokens).toBeGreaterThan(5);
    expect(a.done!.usage.completion_tokens).toBeLessThanOrEqual(24);
    expect(["stop", "length"]).toContain(a.done!.finishReason);
  });

  test("the same seed reproduces a sampled completion; another seed differs", async () => {
    const s = (seed: number) =>
      collect(engine.generate(generateParams({ temperature: 1, top_p: 0.95, seed, max_tokens: 32 })));
    const [a, b, c] = [await s(42), await s(42), await s(43)];
    expect(a.text).toBe(b.text);
    expect(c.text).not.toBe(a.text);
  });

  test("a stop string ends generation and is not returned, even across token boundaries", async () => {
    const full = (await collect(engine.generate(generateParams({ max_tokens: 40 })))).text;
    expect(full.length).toBeGreaterThan(8);
    const stop = full.slice(4, 8);
    const r = await collect(engine.generate(generateParams({ max_tokens: 40, stop: [stop] })));
    expect(r.done!.finishReason).toBe("stop");
    expect(r.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(r.text).not.toContain(stop);
  });

  test("aborting the signal cancels within a step and frees the request", async () => {
    const before = engine.counters.cancelled;
    const ac = new AbortController();
    let tokens = 0;
    let done: GenerationEvent | undefined;
    for await (const e of engine.generate(generateParams({ max_tokens: 2000 }), ac.signal)) {
      if (e.type === "delta" && ++tokens === 3) ac.abort();
      if (e.type === "done") done = e;
    }
    expect(done).toMatchObject({ type: "done", finishReason: "cancelled" });
    expect(tokens).toBeLessThan(10);
    expect(engine.counters.cancelled).toBe(before + 1);
  });

  test("100 requests, a third of them cancelled, leave no live MLX arrays behind", async () => {
    const baseline = await arraysInUse(engine);
    for (let i = 0; i < 100; i++) {
      const ac = new AbortController();
      let n = 0;
      for await (const e of engine.generate(
        generateParams({ max_tokens: 6, temperature: i % 2 ? 0.7 : 0, seed: i }),
        ac.signal,
      )) {
        if (i % 3 === 0 && e.type === "delta" && ++n === 2) ac.abort();
      }
    }
    const stats = await engine.stats();
    expect(stats.liveArrays - stats.prefixCache.arrays).toBe(baseline);
    expect(stats.active).toBe(0);
    expect(stats.queued).toBe(0);
  });

  test("a prompt over the context length is a 400 error, not a crash", async () => {
    const r = await collect(engine.generate(generateParams({ max_tokens: 100_000 })));
    expect(r.error?.status).toBe(400);
    expect(r.error?.message).toContain("context length");
  });
});

test("loading a directory that is not a model fails with a message naming the file", async () => {
  const dir = tempDir();
  await expect(EngineClient.start({ id: "bad", path: dir }, engineLimits())).rejects.toThrow(/config\.json/);
});
