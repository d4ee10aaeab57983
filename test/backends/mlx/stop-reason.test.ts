/**
 * vLLM's `stop_reason` on local answers, end to end: a real Ithaca HTTP server computing a scripted qwen3 model
 * (test/helpers/paths.ts WEATHER: with `enable_thinking: false` it answers `It is sunny in Paris.`; with thinking
 * on and tools it thinks, then calls `get_weather`) and the real `openai` SDK as the client. A stop string the model
 * really emits ends the answer and is named in `choices[0].stop_reason` next to `finish_reason: "stop"`, in the
 * `chat.completion` and in the streamed finish chunk; any other ending has `stop_reason: null`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import type { ChatCompletionChunk, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ModelTokenizer } from "../../../src/engine/tokenizer.ts";
import { WEATHER, WEATHER_SCRIPTS, makeModel, tempDir } from "../../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../../helpers/start.ts";

const MODEL = "weather";
/** The model with `clean_up_tokenization_spaces: true`: streamed text is held back until a clean-up cut is safe. */
const CLEANUP_MODEL = "weather-cleanup";
const USER: ChatCompletionMessageParam = { role: "user", content: "What is the weather in Paris?" };
/** The request fields these tests vary (`enable_thinking` is an Ithaca extension the SDK does not type). */
interface Body {
  model?: string;
  stop?: string[];
  max_tokens?: number;
  enable_thinking?: boolean;
  tools?: typeof WEATHER.tools;
}
/** A choice with vLLM's `stop_reason` and the `reasoning_content` extension. */
type Choice = { finish_reason: string | null; stop_reason?: string | null };
type Message = { content: string | null; reasoning_content?: string };

let local: RunningIthaca;
let client: OpenAI;
let tokenizer: ModelTokenizer;

/** A copy of the model directory (files linked) whose tokenizer config turns on transformers' clean-up of spaces. */
function withCleanUp(dir: string): string {
  const copy = tempDir("ithaca-cleanup-");
  for (const name of readdirSync(dir)) {
    if (name !== "tokenizer_config.json") symlinkSync(join(dir, name), join(copy, name));
  }
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(copy, "tokenizer_config.json"), JSON.stringify({ ...config, clean_up_tokenization_spaces: true }));
  return copy;
}

beforeAll(async () => {
  const dir = makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS });
  local = await startIthaca({
    models: [
      { id: MODEL, path: dir },
      { id: CLEANUP_MODEL, path: withCleanUp(dir) },
    ],
  });
  client = new OpenAI({ baseURL: local.baseURL, apiKey: "unused", maxRetries: 0 });
  tokenizer = new ModelTokenizer(dir, []);
}, 60_000);
afterAll(() => local?.close());

const request = (body: Body) => ({ model: MODEL, messages: [USER], temperature: 0, max_tokens: 100, ...body });

async function complete(body: Body) {
  const r = await client.chat.completions.create(request(body) as OpenAI.ChatCompletionCreateParamsNonStreaming);
  return { choice: r.choices[0]! as Choice, message: r.choices[0]!.message as Message, usage: r.usage! };
}

async function stream(body: Body) {
  const params = { ...request(body), stream: true } as OpenAI.ChatCompletionCreateParamsStreaming;
  const s = await client.chat.completions.create(params);
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of s) chunks.push(c);
  const finish = chunks.at(-2)!.choices[0]! as Choice;
  const before = chunks.slice(0, -2).map((c) => c.choices[0]! as Choice);
  const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
  const reasoning = chunks.map((c) => (c.choices[0]?.delta as Message | undefined)?.reasoning_content ?? "").join("");
  return { finish, before, content, reasoning, usage: chunks.at(-1)!.usage! };
}

describe("a stop string ends the answer and is reported", () => {
  test("non-stream: content before the stop string, finish_reason stop, stop_reason the string", async () => {
    const { choice, message, usage } = await complete({ enable_thinking: false, stop: ["sunny"] });
    expect(message.content).toBe("It is ");
    expect(choice.finish_reason).toBe("stop");
    expect(choice.stop_reason).toBe("sunny");
    // Generation stopped at the stop string: fewer tokens than the whole answer.
    expect(usage.completion_tokens).toBeLessThan(tokenizer.encode(WEATHER.answer).length);
  });

  test("stream: the finish chunk carries finish_reason stop and stop_reason; earlier chunks have neither", async () => {
    const { finish, before, content } = await stream({ enable_thinking: false, stop: ["sunny"] });
    expect(content).toBe("It is ");
    expect(finish.finish_reason).toBe("stop");
    expect(finish.stop_reason).toBe("sunny");
    for (const c of before) {
      expect(c.finish_reason).toBeNull();
      expect(c.stop_reason ?? null).toBeNull();
    }
  });

  test("of several stop strings, the one that matched is named, also when it spans several tokens", async () => {
    const stop = " in Paris";
    expect(tokenizer.encode(stop).length).toBeGreaterThan(1);
    const body = { enable_thinking: false, stop: ["never said", stop] };
    const { choice, message } = await complete(body);
    expect(message.content).toBe("It is sunny");
    expect(choice).toMatchObject({ finish_reason: "stop", stop_reason: stop });
    const streamed = await stream(body);
    expect(streamed.content).toBe("It is sunny");
    expect(streamed.finish).toMatchObject({ finish_reason: "stop", stop_reason: stop });
  });

  test("a stop string completed by the last allowed token wins over length (as in vLLM)", async () => {
    const max_tokens = tokenizer.encode("It is sunny").length;
    const { choice, message, usage } = await complete({ enable_thinking: false, stop: ["sunny"], max_tokens });
    expect(usage.completion_tokens).toBe(max_tokens);
    expect(message.content).toBe("It is ");
    expect(choice).toMatchObject({ finish_reason: "stop", stop_reason: "sunny" });
  });

  test("a stop string that only the text held back to the end completes also wins over length", async () => {
    // With clean-up on, "It is" (no run of 3 non-space characters) stays held back until generation ends.
    const max_tokens = tokenizer.encode("It is").length;
    const whole = await complete({ model: CLEANUP_MODEL, enable_thinking: false, max_tokens });
    expect(whole.message.content).toBe("It is");
    expect(whole.choice).toMatchObject({ finish_reason: "length", stop_reason: null });
    const body = { model: CLEANUP_MODEL, enable_thinking: false, max_tokens, stop: ["It is"] };
    const { choice, message } = await complete(body);
    expect(message.content).toBe("");
    expect(choice).toMatchObject({ finish_reason: "stop", stop_reason: "It is" });
    const streamed = await stream(body);
    expect(streamed.content).toBe("");
    expect(streamed.finish).toMatchObject({ finish_reason: "stop", stop_reason: "It is" });
  });

  test("a stop string inside the thinking ends the answer there too", async () => {
    const { choice, message } = await complete({ tools: WEATHER.tools, stop: ["weather tool"] });
    expect(message.reasoning_content).toBe("I should check the ");
    expect(choice).toMatchObject({ finish_reason: "stop", stop_reason: "weather tool" });
  });
});

describe("stop_reason is null when no stop string ended the answer", () => {
  test("end of turn (with a stop string that never matches): finish_reason stop, stop_reason null", async () => {
    const { choice, message } = await complete({ enable_thinking: false, stop: ["cloudy"] });
    expect(message.content).toBe(WEATHER.answer);
    expect(choice.finish_reason).toBe("stop");
    expect(choice.stop_reason).toBeNull();
    const streamed = await stream({ enable_thinking: false });
    expect(streamed.content).toBe(WEATHER.answer);
    expect(streamed.finish.finish_reason).toBe("stop");
    expect(streamed.finish.stop_reason).toBeNull();
  });

  test("max_tokens: finish_reason length, stop_reason null", async () => {
    const { choice } = await complete({ enable_thinking: false, max_tokens: 2 });
    expect(choice).toMatchObject({ finish_reason: "length", stop_reason: null });
    const streamed = await stream({ enable_thinking: false, max_tokens: 2 });
    expect(streamed.finish).toMatchObject({ finish_reason: "length", stop_reason: null });
  });

  test("a tool call: finish_reason tool_calls, stop_reason null", async () => {
    const { choice } = await complete({ tools: WEATHER.tools });
    expect(choice).toMatchObject({ finish_reason: "tool_calls", stop_reason: null });
    const streamed = await stream({ tools: WEATHER.tools });
    expect(streamed.finish).toMatchObject({ finish_reason: "tool_calls", stop_reason: null });
  });
});
