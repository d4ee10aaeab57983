/**
 * A Claude-Code-style session against a local model, with the real Anthropic SDK: Claude Code's headers
 * (`anthropic-beta`), a system prompt in blocks with `cache_control`, several tools, `metadata.user_id`, streaming;
 * `count_tokens` before every turn (it must equal the turn's `usage.input_tokens` plus `cache_read_input_tokens`, the
 * prefix cache's share from the earlier turns of the session: the engine's own template and
 * tokenizer), then tool use over several turns. Also: Claude Code's default model ids mapped by an alias pattern, the
 * exact event sequence with `ping`, and the `max_tokens` and `stop_sequence` stop reasons.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseSSE } from "../../src/protocol/sse.ts";
import { WEATHER, WEATHER_SCRIPTS, makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

let ithaca: RunningIthaca;
let client: Anthropic;

const SYSTEM: Anthropic.TextBlockParam[] = [
  { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude." },
  { type: "text", text: "Use the tools to answer.", cache_control: { type: "ephemeral" } },
];
const TOOLS: Anthropic.Tool[] = [
  {
    name: "Bash",
    description: "Run a shell command",
    input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
  },
  {
    name: "get_weather",
    description: WEATHER.tools[0]!.function.description,
    input_schema: { ...WEATHER.tools[0]!.function.parameters, type: "object" },
    cache_control: { type: "ephemeral" },
  },
];

beforeAll(async () => {
  ithaca = await startIthaca({
    models: [{ id: "weather", path: makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS }) }],
    aliases: { "claude-*": "weather" },
  });
  client = new Anthropic({
    baseURL: ithaca.url,
    apiKey: "sk-ant-client",
    maxRetries: 0,
    defaultHeaders: { "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14" },
  });
}, 60_000);
afterAll(() => ithaca?.close());

/** One Claude Code turn: count the tokens, then stream the answer; the count must equal the usage. */
async function turn(messages: Anthropic.MessageParam[], thinking: boolean): Promise<Anthropic.Message> {
  const request = {
    model: "weather",
    system: SYSTEM,
    tools: TOOLS,
    messages,
    thinking: thinking ? ({ type: "enabled", budget_tokens: 1024 } as const) : ({ type: "disabled" } as const),
  };
  const counted = await client.messages.countTokens(request);
  const message = await client.messages
    .stream({ ...request, max_tokens: 2048, metadata: { user_id: "user_1f2e_account__session_7c1d" } })
    .finalMessage();
  expect(message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0)).toBe(counted.input_tokens);
  expect(counted.input_tokens).toBeGreaterThan(50);
  return message;
}

describe("Claude-Code-style flow against a local model", () => {
  test("count_tokens, then tool use over several turns", async () => {
    const history: Anthropic.MessageParam[] = [{ role: "user", content: "What is the weather in Paris?" }];
    const reads: number[] = [];
    for (let round = 0; round < 2; round++) {
      const call = await turn(history, true);
      expect(call.stop_reason).toBe("tool_use");
      expect(call.content.map((block) => block.type)).toEqual(["thinking", "tool_use"]);
      const toolUse = call.content[1] as Anthropic.ToolUseBlock;
      expect(toolUse).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
      history.push(
        { role: "assistant", content: call.content as Anthropic.ContentBlockParam[] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "22°C, sunny" }] },
      );
      const answer = await turn(history, false);
      reads.push(call.usage.cache_read_input_tokens ?? 0, answer.usage.cache_read_input_tokens ?? 0);
      expect(answer.stop_reason).toBe("end_turn");
      expect(answer.content).toEqual(
        [{ type: "text", text: WEATHER.answer, citations: null }].map(({ citations: _c, ...b }) => b) as never,
      );
      history.push({ role: "assistant", content: answer.content as Anthropic.ContentBlockParam[] });
      history.push({ role: "user", content: "And tomorrow?" });
    }
    // Every turn after the first reuses the conversation so far from the prefix cache (thinking switches on and off,
    // so the session's scope changes each turn: the reuse comes through the shared-prefix index).
    expect(reads.slice(1).every((read) => read > 50)).toBe(true);
  });

  test("Claude Code's own model ids reach the local model through the `claude-*` alias pattern", async () => {
    const message = await client.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      thinking: { type: "disabled" },
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
    });
    expect(message.model).toBe("claude-sonnet-4-6");
    expect(message.content).toEqual([expect.objectContaining({ type: "text", text: WEATHER.answer })]);
    const unknown = await client.messages
      .create({ model: "gpt-9", max_tokens: 5, messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect(unknown.error).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  test("the raw stream is Anthropic's event sequence, with a ping after message_start", async () => {
    const response = await fetch(`${ithaca.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "k" },
      body: JSON.stringify({
        model: "weather",
        max_tokens: 100,
        stream: true,
        tools: TOOLS,
        messages: [{ role: "user", content: "What is the weather in Paris?" }],
      }),
    });
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const names: string[] = [];
    for await (const event of parseSSE(response.body!)) {
      const data = JSON.parse(event.data) as {
        type: string;
        delta?: { type: string };
        content_block?: { type: string };
      };
      expect(data.type).toBe(event.event!);
      const detail = data.content_block?.type ?? data.delta?.type;
      const name = detail && event.event !== "message_delta" ? `${event.event}:${detail}` : event.event!;
      if (names.at(-1) !== name) names.push(name);
    }
    expect(names).toEqual([
      "message_start",
      "ping",
      "content_block_start:thinking",
      "content_block_delta:thinking_delta",
      "content_block_stop",
      "content_block_start:tool_use",
      "content_block_delta:input_json_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  test.each([false, true])("stop reasons max_tokens and stop_sequence (stream %p)", async (stream) => {
    const base = {
      model: "weather",
      thinking: { type: "disabled" as const },
      messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
    };
    const create = (extra: { max_tokens: number; stop_sequences?: string[] }) =>
      stream
        ? client.messages.stream({ ...base, ...extra }).finalMessage()
        : client.messages.create({ ...base, ...extra });
    const short = await create({ max_tokens: 2 });
    expect(short.stop_reason).toBe("max_tokens");
    expect(short.usage.output_tokens).toBe(2);
    const stopped = await create({ max_tokens: 100, stop_sequences: ["sunny"] });
    expect(stopped).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "sunny" });
    expect(stopped.content).toEqual([expect.objectContaining({ type: "text", text: "It is " })]);
  });
});
