/**
 * Tool calling and thinking output of the local engine, end to end: a real Ithaca HTTP server computing a scripted
 * qwen3 model (scripts/make-model/scripted.ts: real weights, real MLX, greedy decoding that writes Qwen3's
 * `<think>…</think>` and Hermes `<tool_call>{json}</tool_call>` text) and the real `openai` SDK as the client.
 *
 * The model: with thinking on it emits `<think>\nI should check the weather tool.\n</think>\n\n<tool_call>\n
 * {"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`; with `enable_thinking: false` it answers
 * `It is sunny in Paris.` (test/helpers/paths.ts WEATHER).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { ChatTemplate } from "../../src/engine/chat-template.ts";
import { normalizeMessages } from "../../src/engine/messages.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { WEATHER, WEATHER_CALL_TEXT, WEATHER_SCRIPTS, makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const MODEL = "weather";
const USER: ChatCompletionMessageParam = { role: "user", content: "What is the weather in Paris?" };
/** The Ithaca extension fields (`enable_thinking`) and the `reasoning_content` of answers, which the SDK does not type. */
type Extra = { enable_thinking?: boolean };
type Reasoning = { reasoning_content?: string | null };

let dir: string;
let local: RunningIthaca;
let client: OpenAI;
let tokenizer: ModelTokenizer;

beforeAll(async () => {
  dir = makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS });
  local = await startIthaca({ models: [{ id: MODEL, path: dir }] });
  client = new OpenAI({ baseURL: local.baseURL, apiKey: "unused", maxRetries: 0 });
  tokenizer = new ModelTokenizer(dir, []);
}, 60_000);
afterAll(() => local?.close());

const create = (body: Omit<ChatCompletionCreateParamsNonStreaming, "model"> & Extra) =>
  client.chat.completions.create({
    model: MODEL,
    temperature: 0,
    max_tokens: 100,
    ...body,
  } as ChatCompletionCreateParamsNonStreaming);

async function streamChunks(
  body: Omit<ChatCompletionCreateParamsNonStreaming, "model" | "stream"> & Extra,
): Promise<ChatCompletionChunk[]> {
  const stream = await client.chat.completions.create({
    model: MODEL,
    temperature: 0,
    max_tokens: 100,
    ...body,
    stream: true,
  } as ChatCompletionCreateParamsStreaming);
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

/** Prompt length as the engine renders it (template + tokenizer), for the usage checks. */
function promptTokens(messages: unknown[], tools?: unknown[], enable_thinking?: boolean): number {
  return tokenizer.encode(new ChatTemplate(tokenizer).render(normalizeMessages(messages), { tools, enable_thinking }))
    .length;
}

const joined = (chunks: ChatCompletionChunk[], field: "content" | "reasoning_content") =>
  chunks.map((c) => ((c.choices[0]?.delta ?? {}) as Record<string, unknown>)[field] ?? "").join("");

const CALL_TOKENS = () => tokenizer.encode(WEATHER_CALL_TEXT).length;
const MARKUP = /<\/?think>|<\/?tool_call>/;

describe("turn 1: thinking on, tools declared → reasoning + a tool call", () => {
  test("non-stream: reasoning_content, no content, one get_weather call, finish_reason tool_calls, usage", async () => {
    const r = await create({ messages: [USER], tools: WEATHER.tools });
    const choice = r.choices[0]!;
    const message = choice.message as ChatCompletion.Choice["message"] & Reasoning;
    expect(message.reasoning_content).toBe(WEATHER.think);
    expect(message.content ?? "").toBe("");
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0]!;
    expect(call.type).toBe("function");
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });
    expect(choice.finish_reason).toBe("tool_calls");
    expect(r.usage!.completion_tokens).toBe(CALL_TOKENS());
    expect(r.usage!.prompt_tokens).toBe(promptTokens([USER], WEATHER.tools));
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test("stream: reasoning deltas, one tool_calls delta with index/id/type/name/arguments, finish chunk tool_calls", async () => {
    const chunks = await streamChunks({ messages: [USER], tools: WEATHER.tools });
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(joined(chunks, "reasoning_content")).toBe(WEATHER.think);
    // Reasoning is streamed as it is generated, not in one piece.
    expect(chunks.filter((c) => ((c.choices[0]?.delta ?? {}) as Reasoning).reasoning_content).length).toBeGreaterThan(
      3,
    );
    const content = joined(chunks, "content");
    expect(content).toBe("");
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls).toHaveLength(1);
    // The reasoning comes first, then the call.
    const callAt = chunks.findIndex((c) => c.choices[0]?.delta.tool_calls);
    expect(chunks.findLastIndex((c) => ((c.choices[0]?.delta ?? {}) as Reasoning).reasoning_content)).toBeLessThan(
      callAt,
    );
    expect(calls[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_weather" } });
    expect(calls[0]!.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(JSON.parse(calls[0]!.function!.arguments!)).toEqual({ city: "Paris" });
    for (const c of chunks) expect(JSON.stringify(c.choices[0]?.delta ?? {})).not.toMatch(MARKUP);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]!.finish_reason).toBe("tool_calls");
    expect(chunks.slice(0, -2).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(CALL_TOKENS());
  });

  test("the SDK's stream helper assembles the same tool call (finalChatCompletion)", async () => {
    const runner = client.chat.completions.stream({
      model: MODEL,
      temperature: 0,
      max_tokens: 100,
      messages: [USER],
      tools: WEATHER.tools,
    });
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });
    expect(choice.message.content ?? "").toBe("");
  });
});

describe("turn 2: the tool result in history, enable_thinking false → a text answer", () => {
  let history: ChatCompletionMessageParam[];

  beforeAll(async () => {
    const first = await create({ messages: [USER], tools: WEATHER.tools });
    const call = first.choices[0]!.message.tool_calls![0]!;
    history = [
      USER,
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: "sunny, 24°C" },
    ];
  });

  test("non-stream: content is the answer, no reasoning, no tool calls, finish_reason stop", async () => {
    const r = await create({ messages: history, tools: WEATHER.tools, enable_thinking: false });
    const message = r.choices[0]!.message as ChatCompletion.Choice["message"] & Reasoning;
    expect(message.content).toBe(WEATHER.answer);
    expect(message.reasoning_content ?? "").toBe("");
    expect(message.tool_calls ?? []).toEqual([]);
    expect(r.choices[0]!.finish_reason).toBe("stop");
    expect(r.usage!.prompt_tokens).toBe(promptTokens(history, WEATHER.tools, false));
    expect(r.usage!.completion_tokens).toBe(tokenizer.encode(WEATHER.answer).length);
  });

  test("stream: content deltas join to the answer", async () => {
    const chunks = await streamChunks({ messages: history, tools: WEATHER.tools, enable_thinking: false });
    expect(joined(chunks, "content")).toBe(WEATHER.answer);
    expect(joined(chunks, "reasoning_content")).toBe("");
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
  });

  test("with thinking left on, the same history makes the model think and call the tool again", async () => {
    const r = await create({ messages: history, tools: WEATHER.tools });
    expect(r.choices[0]!.finish_reason).toBe("tool_calls");
    expect((r.choices[0]!.message as Reasoning).reasoning_content).toBe(WEATHER.think);
  });
});

describe("tool parsing is on only when tools are declared", () => {
  // Reasoning is still split off; the call stays text (Qwen3 layout: the newlines after </think> are dropped).
  const CALL_AS_TEXT = WEATHER_CALL_TEXT.slice(WEATHER_CALL_TEXT.indexOf("<tool_call>"));

  test("no tools: the <tool_call> block is content, finish_reason stop", async () => {
    const r = await create({ messages: [USER] });
    const message = r.choices[0]!.message as ChatCompletion.Choice["message"] & Reasoning;
    expect(message.reasoning_content).toBe(WEATHER.think);
    expect(message.content).toBe(CALL_AS_TEXT);
    expect(message.tool_calls ?? []).toEqual([]);
    expect(r.choices[0]!.finish_reason).toBe("stop");
    const chunks = await streamChunks({ messages: [USER] });
    expect(joined(chunks, "content")).toBe(CALL_AS_TEXT);
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])).toEqual([]);
  });

  test("tool_choice 'none' with tools: the same as no tools", async () => {
    const r = await create({ messages: [USER], tools: WEATHER.tools, tool_choice: "none" });
    expect(r.choices[0]!.message.content).toBe(CALL_AS_TEXT);
    expect(r.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(r.choices[0]!.finish_reason).toBe("stop");
  });

  test("tool_choice 'auto' is the default behaviour", async () => {
    const r = await create({ messages: [USER], tools: WEATHER.tools, tool_choice: "auto" });
    expect(r.choices[0]!.finish_reason).toBe("tool_calls");
  });

  for (const choice of ["required", { type: "function", function: { name: "get_weather" } }] as const) {
    test(`tool_choice ${JSON.stringify(choice)}: the grammar forces the model's own call`, async () => {
      const r = await create({ messages: [USER], tools: WEATHER.tools, tool_choice: choice });
      expect(r.choices[0]!.finish_reason).toBe("tool_calls");
      const calls = r.choices[0]!.message.tool_calls ?? [];
      expect(
        calls.map((c) => (c.type === "function" ? [c.function.name, JSON.parse(c.function.arguments)] : [])),
      ).toEqual([["get_weather", { city: "Paris" }]]);
    });
  }
});

describe("logprobs on the scripted model", () => {
  type Entry = {
    token: string;
    logprob: number;
    bytes: number[] | null;
    top_logprobs: { token: string; logprob: number; bytes: number[] | null }[];
  };

  function checkEntries(entries: Entry[], text: string, count: number): void {
    expect(entries).toHaveLength(count);
    expect(entries.map((e) => e.token).join("")).toBe(text);
    for (const e of entries) {
      expect(e.logprob).toBeLessThanOrEqual(0);
      expect(e.logprob).toBeGreaterThan(-1e-3); // the scripted token is near-certain
      expect(e.bytes).toEqual([...new TextEncoder().encode(e.token)]);
      expect(e.top_logprobs).toHaveLength(2);
      expect(e.top_logprobs[0]!.token).toBe(e.token);
      expect(e.top_logprobs[0]!.logprob).toBeCloseTo(e.logprob, 6);
      expect(e.top_logprobs[1]!.logprob).toBeLessThan(e.top_logprobs[0]!.logprob - 10);
    }
  }

  test("text answer: one entry per completion token, greedy token first in top_logprobs", async () => {
    const r = await create({ messages: [USER], enable_thinking: false, logprobs: true, top_logprobs: 2 });
    expect(r.choices[0]!.message.content).toBe(WEATHER.answer);
    checkEntries(r.choices[0]!.logprobs!.content as Entry[], WEATHER.answer, r.usage!.completion_tokens);
  });

  test("tool-call turn: held-back tokens (markers, the call) still get their entries, stream and non-stream", async () => {
    const r = await create({ messages: [USER], tools: WEATHER.tools, logprobs: true, top_logprobs: 2 });
    checkEntries(r.choices[0]!.logprobs!.content as Entry[], WEATHER_CALL_TEXT, CALL_TOKENS());
    const chunks = await streamChunks({ messages: [USER], tools: WEATHER.tools, logprobs: true, top_logprobs: 2 });
    checkEntries(
      chunks.flatMap((c) => (c.choices[0]?.logprobs?.content ?? []) as Entry[]),
      WEATHER_CALL_TEXT,
      CALL_TOKENS(),
    );
  });
});

describe("catalog", () => {
  test("/v1/models advertises tools for the model; the contract lists tools and thinking", async () => {
    const models = (await (await fetch(`${local.baseURL}/models`)).json()) as {
      data: { id: string; x_odyssai: Record<string, unknown> }[];
    };
    const entry = models.data.find((m) => m.id === MODEL)!;
    expect(entry.x_odyssai.supports_tools).toBe(true);
    expect(entry.x_odyssai.supports_thinking).toBe(true);
    expect(entry.x_odyssai.tools).toBe(true);
    const contract = (await (await fetch(`${local.url}/.well-known/inference-engine.json`)).json()) as {
      features: string[];
      capabilities: { tools: boolean };
      models: { id: string; capabilities: string[] }[];
    };
    expect(contract.capabilities.tools).toBe(true);
    expect(contract.features).toContain("tool-calling");
    expect(contract.models.find((m) => m.id === MODEL)!.capabilities).toEqual(
      expect.arrayContaining(["tools", "thinking"]),
    );
  });
});
