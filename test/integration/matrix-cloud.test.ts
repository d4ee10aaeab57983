/**
 * Any client dialect reaches any cloud backend: the openai SDK (chat completions, Responses) and the Anthropic SDK
 * (Messages), stream and non-stream, against an Anthropic-dialect upstream (native or translated), OpenAI, and
 * OpenRouter (its `reasoning` field) — each a fixture server speaking the provider's documented wire format. Every
 * case plays the weather conversation: turn 1 thinks and calls `get_weather`, turn 2 answers from the tool result.
 * The fixtures check what Ithaca sent them (alternation, tool_result blocks, thinking budget), and the tests check
 * the tool result each upstream received in its own dialect.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AnthropicFixture } from "../fixtures/cloud/anthropic.ts";
import { OpenAIFixture } from "../fixtures/cloud/openai.ts";
import { OpenRouterFixture } from "../fixtures/cloud/openrouter.ts";
import type { RecordedCall, ScriptedReply } from "../fixtures/cloud/script.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { DIALECTS, type Outcome } from "./clients.ts";

const THINK = "The user wants the weather in Paris; I will call the tool.";
const ANSWER = "It is 22°C and sunny in Paris.";
const RESULT = "22°C, sunny";

let anthropic: AnthropicFixture;
let openai: OpenAIFixture;
let openrouter: OpenRouterFixture;
let ithaca: RunningIthaca;

beforeAll(async () => {
  anthropic = new AnthropicFixture({ apiKey: "sk-ant-test", models: ["claude-haiku-4-5"] });
  openai = new OpenAIFixture({ apiKey: "sk-openai-test", models: ["gpt-4o-mini"] });
  openrouter = new OpenRouterFixture({ apiKey: "sk-or-test", models: ["anthropic/claude-haiku-4.5"] });
  ithaca = await startIthaca(
    {
      upstreams: [
        {
          id: "anthropic",
          kind: "anthropic-http",
          base_url: anthropic.baseUrl,
          api_key_env: "ANTHROPIC_KEY",
          published: [{ alias: "claude-haiku", model: "claude-haiku-4-5", capabilities: ["tools", "thinking"] }],
        },
        {
          id: "openai",
          base_url: openai.baseUrl,
          api_key_env: "OPENAI_KEY",
          cloud: true,
          published: [{ alias: "gpt-mini", model: "gpt-4o-mini", capabilities: ["tools"] }],
        },
        {
          id: "openrouter",
          base_url: openrouter.baseUrl,
          api_key_env: "OPENROUTER_KEY",
          cloud: true,
          headers: { "HTTP-Referer": "https://ithaca.test", "X-Title": "Ithaca tests" },
          published: [{ alias: "or:claude-haiku", model: "anthropic/claude-haiku-4.5", capabilities: ["tools"] }],
        },
      ],
    },
    { env: { ANTHROPIC_KEY: "sk-ant-test", OPENAI_KEY: "sk-openai-test", OPENROUTER_KEY: "sk-or-test" } },
  );
});
afterAll(async () => {
  await ithaca?.close();
  await Promise.all([anthropic?.close(), openai?.close(), openrouter?.close()]);
});

/** The tool result an upstream received in turn 2, read in its own dialect. */
function receivedToolResult(call: RecordedCall): { id: string; content: string } {
  const messages = call.body.messages as Array<Record<string, any>>;
  for (const message of messages) {
    if (message.role === "tool") return { id: message.tool_call_id, content: message.content };
    if (Array.isArray(message.content)) {
      const block = message.content.find((part: Record<string, unknown>) => part.type === "tool_result");
      if (block) {
        const content = typeof block.content === "string" ? block.content : block.content[0].text;
        return { id: block.tool_use_id, content };
      }
    }
  }
  throw new Error(`no tool result in ${JSON.stringify(messages)}`);
}

const BACKENDS = [
  { name: "anthropic-http", model: "claude-haiku", fixture: () => anthropic, callId: "toolu_weather01" },
  { name: "openai-http (OpenAI)", model: "gpt-mini", fixture: () => openai, callId: "call_weather01" },
  { name: "openai-http (OpenRouter)", model: "or:claude-haiku", fixture: () => openrouter, callId: "call_weather02" },
] as const;

describe.each(BACKENDS)("$name", (backend) => {
  const cases = Object.keys(DIALECTS).flatMap((dialect) =>
    [false, true].map((stream) => ({ dialect: dialect as keyof typeof DIALECTS, stream })),
  );
  test.each(cases)(
    "$dialect, stream $stream: thinking, a tool call, then the answer from its result",
    async ({ dialect, stream }) => {
      const fixture = backend.fixture();
      const turn1: ScriptedReply = {
        thinking: THINK,
        toolCalls: [{ id: backend.callId, name: "get_weather", arguments: { city: "Paris" } }],
      };
      fixture.enqueue(turn1, { text: ANSWER });
      const ask = DIALECTS[dialect];
      const first: Outcome = await ask(ithaca, backend.model, { thinking: true, stream, maxTokens: 2048 });
      expect(first).toEqual({
        reasoning: THINK,
        text: "",
        toolCalls: [{ id: backend.callId, name: "get_weather", input: { city: "Paris" } }],
        stop: "tool",
      });
      const call = first.toolCalls[0]!;
      const second = await ask(ithaca, backend.model, {
        thinking: false,
        stream,
        maxTokens: 2048,
        toolResult: { call, content: RESULT },
      });
      expect(second).toEqual({ reasoning: "", text: ANSWER, toolCalls: [], stop: "end" });
      expect(receivedToolResult(fixture.calls.at(-1)!)).toEqual({ id: backend.callId, content: RESULT });
    },
  );
});
