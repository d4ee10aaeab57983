/**
 * What a model served across two ranks keeps (issue 17, item 4): a ring cluster of two ranks spawned over a real
 * OpenSSH server on loopback serves a scripted qwen3 model (scripts/make-model/scripted.ts: real weights whose greedy
 * output thinks, then calls `get_weather`), and answers exactly as the same model in one process does, in both
 * dialects — thinking split into `reasoning_content` or `thinking` blocks, the tool call parsed, stop strings
 * honoured — while a client that leaves mid-stream is cancelled on every rank at the same step. After 100 requests neither rank holds more MLX arrays than before them,
 * its prefix cache full both times (each rank's engine counters, in the cluster's status).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { basename, dirname, join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { jsonCall } from "../../helpers/json-call.ts";
import { BUN, makeModel, REPO, WEATHER, WEATHER_SCRIPTS } from "../../helpers/paths.ts";
import { TestSshd } from "../../helpers/sshd.ts";
import { type RunningIthaca, startIthaca } from "../../helpers/start.ts";

let sshd: TestSshd;
let server: RunningIthaca;
let client: OpenAI;
let local: RunningIthaca;
let alone: OpenAI;
let model = "";
let rankUrls: string[] = [];
const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);

/** Each rank's engine as the cluster's status shows it. */
async function engines(): Promise<Array<{ live_arrays: number; active: number; queued: number }>> {
  const status = (await admin("GET", "/admin/clusters/pair/status")).json;
  return status.ranks.map((rank: { engine: unknown }) => rank.engine);
}

/** The live MLX arrays of the model on each rank (numbers: a rank that did not answer fails the comparison). */
async function liveArrays(): Promise<number[]> {
  return (await engines()).map((engine) => engine.live_arrays);
}

beforeAll(async () => {
  const dir = makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS });
  model = basename(dir);
  sshd = await TestSshd.start();
  server = await startIthaca({});
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "none", maxRetries: 0 });
  local = await startIthaca({ models: [{ id: model, path: dir }] });
  alone = new OpenAI({ baseURL: local.baseURL, apiKey: "none", maxRetries: 0 });
  const put = await admin("PUT", "/admin/clusters/pair", {
    kind: "ring",
    models_dir: dirname(dir),
    ithaca_command: `${BUN} ${join(REPO, "src", "main.ts")}`,
    ssh_key: sshd.userKey,
    nodes: [
      { host: "left", ssh: sshd.target, ip: "127.0.0.1" },
      { host: "right", ssh: sshd.target, ip: "127.0.0.2" },
    ],
  });
  expect(put.status).toBe(200);
  const loaded = await admin("POST", "/admin/clusters/pair/load", { model, mode: "pipeline" });
  expect([loaded.status, loaded.json.error?.message]).toEqual([200, undefined]);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const status = (await admin("GET", "/admin/clusters/pair/status")).json;
    rankUrls = status.ranks.map((rank: { url: string | null }) => rank.url).filter(Boolean);
    if (rankUrls.length === 2) break;
    await Bun.sleep(100);
  }
  expect(rankUrls.length).toBe(2);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await local?.close();
  await sshd?.stop();
});

describe("a scripted model on two ranks", () => {
  test("thinking and a tool call: parsed as one process parses them", async () => {
    const request = {
      messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
      tools: WEATHER.tools,
      max_tokens: 80,
      temperature: 0,
    };
    const across = await client.chat.completions.create({ model: `pair:${model}`, ...request });
    const single = await alone.chat.completions.create({ model, ...request });
    const message = across.choices[0]?.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    expect(message.tool_calls?.[0]).toMatchObject({ function: { name: "get_weather" } });
    const call = message.tool_calls?.[0] as { function: { arguments: string } } | undefined;
    expect(JSON.parse(call?.function.arguments ?? "null")).toEqual(WEATHER.call.arguments);
    expect(message.reasoning_content).toBe(WEATHER.think);
    expect(across.choices[0]?.finish_reason).toBe("tool_calls");
    expect(across.usage).toEqual(single.usage);
  });

  // The prompt of the test before: a prefix cache hit on every rank (each stage's caches are its own layers').
  test("the Anthropic dialect: thinking and tool_use blocks as one process gives them", async () => {
    const request = {
      max_tokens: 80,
      temperature: 0,
      messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
      tools: WEATHER.tools.map((tool) => ({
        name: tool.function.name,
        description: tool.function.description,
        input_schema: tool.function.parameters as Anthropic.Tool.InputSchema,
      })),
    };
    const across = await new Anthropic({ baseURL: server.url, apiKey: "none", maxRetries: 0 }).messages.create({
      model: `pair:${model}`,
      ...request,
    });
    const single = await new Anthropic({ baseURL: local.url, apiKey: "none", maxRetries: 0 }).messages.create({
      model,
      ...request,
    });
    expect(across.content.map((block) => block.type)).toEqual(["thinking", "tool_use"]);
    expect(across.content).toEqual(
      single.content.map((block) => (block.type === "tool_use" ? { ...block, id: expect.any(String) } : block)),
    );
    expect([across.stop_reason, across.usage.output_tokens]).toEqual([single.stop_reason, single.usage.output_tokens]);
  });

  test("a stop string ends the answer where one process ends it", async () => {
    const request = {
      messages: [{ role: "user" as const, content: "Weather?" }],
      max_tokens: 60,
      temperature: 0,
      stop: ["check"],
      extra_body: { enable_thinking: true },
    };
    const across = await client.chat.completions.create({ model: `pair:${model}`, ...request });
    const single = await alone.chat.completions.create({ model, ...request });
    expect(across.choices[0]?.finish_reason).toBe("stop");
    expect(across.choices[0]?.message).toEqual(single.choices[0]?.message as OpenAI.ChatCompletionMessage);
  });

  test("a client that leaves mid-stream is cancelled on both ranks; the next requests are answered", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: `pair:${model}`,
        messages: [{ role: "user", content: "Tell me everything" }],
        max_tokens: 2000,
        stream: true,
      },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks === 3) controller.abort();
      }
    } catch {
      // the abort ends the iteration
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    const next = await client.chat.completions.create({
      model: `pair:${model}`,
      messages: [{ role: "user", content: "Weather?" }],
      max_tokens: 8,
      temperature: 0,
    });
    expect(next.usage?.completion_tokens).toBeGreaterThan(0);
    // The cancelled generation left both ranks' batches: nothing active, nothing queued.
    expect((await engines()).map((engine) => [engine.active, engine.queued])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  test("100 requests, 8 at a time: no rank holds more arrays than before them", async () => {
    // Each rank's prefix cache keeps at most 64 entries (engine.prefix_cache.max_entries), each of the same arrays:
    // filled first, it holds as many arrays after the 100 requests as before them.
    let next = 0;
    let last = 0;
    const worker = async () => {
      while (next < last) {
        const i = next++;
        const answer = await client.chat.completions.create({
          model: `pair:${model}`,
          messages: [{ role: "user", content: `Question number ${i}` }],
          max_tokens: 6,
          temperature: i % 2 === 0 ? 0 : 0.8,
          seed: i,
        });
        expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
      }
    };
    last = 70;
    await Promise.all(Array.from({ length: 8 }, worker));
    const idle = await liveArrays();
    expect(idle.every((n) => typeof n === "number" && n > 0)).toBe(true);
    last = 170;
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(await liveArrays()).toEqual(idle);
  }, 180_000);
});
