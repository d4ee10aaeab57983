/**
 * The three client dialects as real SDK calls, each reduced to one comparable outcome: reasoning text, answer text,
 * tool calls, and why the answer stopped. The matrix tests run every dialect against every kind of backend with the
 * same weather conversation: turn 1 thinks and calls `get_weather`, turn 2 gets the tool result and answers.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

/** What a client got, in dialect-neutral terms. */
export interface Outcome {
  reasoning: string;
  text: string;
  toolCalls: Array<{ id: string; name: string; input: unknown }>;
  /** `tool` (tool_calls / tool_use), `end` (stop / end_turn), `length` (length / max_tokens), or the raw value. */
  stop: string;
}

/** One conversation turn, dialect-neutral. */
export interface Turn {
  /** Previous tool call to answer (turn 2): its id as the client got it, and the tool's result. */
  toolResult?: { call: { id: string; name: string; input: unknown }; content: string };
  thinking: boolean;
  stream: boolean;
  maxTokens: number;
}

export const QUESTION = "What is the weather in Paris?";
export const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather of a city",
  parameters: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

const stopOf = (value: string | null | undefined): string =>
  ({ tool_calls: "tool", tool_use: "tool", stop: "end", end_turn: "end", length: "length", max_tokens: "length" })[
    value ?? ""
  ] ?? String(value);

/** Asks through `POST /v1/chat/completions` with the openai SDK. */
export async function viaChat(client: OpenAI, model: string, turn: Turn): Promise<Outcome> {
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: QUESTION }];
  if (turn.toolResult) {
    const { call, content } = turn.toolResult;
    messages.push(
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: call.id, type: "function", function: { name: call.name, arguments: JSON.stringify(call.input) } },
        ],
      },
      { role: "tool", tool_call_id: call.id, content },
    );
  }
  const body = {
    model,
    messages,
    max_tokens: turn.maxTokens,
    temperature: 0,
    tools: [{ type: "function" as const, function: WEATHER_TOOL }],
    enable_thinking: turn.thinking,
  };
  if (turn.stream) return fromChunks(await client.chat.completions.create({ ...body, stream: true }));
  return fromCompletion(await client.chat.completions.create(body));
}

/** `reasoning_content`, or OpenRouter's `reasoning`, of a message or delta. */
type Reasoning = { reasoning_content?: string | null; reasoning?: string | null };

/**
 * Accumulates a chunk stream by hand: the SDK's `finalChatCompletion()` keeps only the last fragment of fields it
 * does not know, such as `reasoning_content`.
 */
async function fromChunks(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<Outcome> {
  let reasoning = "";
  let text = "";
  let stop = "";
  const calls: Array<{ id: string; name: string; args: string }> = [];
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta as OpenAI.ChatCompletionChunk.Choice.Delta & Reasoning;
    reasoning += delta.reasoning_content ?? delta.reasoning ?? "";
    text += delta.content ?? "";
    for (const call of delta.tool_calls ?? []) {
      let slot = calls[call.index];
      if (slot === undefined) {
        slot = { id: "", name: "", args: "" };
        calls[call.index] = slot;
      }
      slot.id ||= call.id ?? "";
      slot.name += call.function?.name ?? "";
      slot.args += call.function?.arguments ?? "";
    }
    if (choice.finish_reason) stop = stopOf(choice.finish_reason);
  }
  return {
    reasoning,
    text,
    toolCalls: calls.map((c) => ({ id: c.id, name: c.name, input: JSON.parse(c.args) })),
    stop,
  };
}

function fromCompletion(completion: OpenAI.ChatCompletion): Outcome {
  const choice = completion.choices[0]!;
  const message = choice.message as OpenAI.ChatCompletionMessage & Reasoning;
  return {
    reasoning: message.reasoning_content ?? message.reasoning ?? "",
    text: message.content ?? "",
    toolCalls: (message.tool_calls ?? []).map((call) => {
      const fn = (call as OpenAI.ChatCompletionMessageFunctionToolCall).function;
      return { id: call.id, name: fn.name, input: JSON.parse(fn.arguments) };
    }),
    stop: stopOf(choice.finish_reason),
  };
}

/** Asks through `POST /v1/messages` with the Anthropic SDK. */
export async function viaMessages(client: Anthropic, model: string, turn: Turn): Promise<Outcome> {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: QUESTION }];
  if (turn.toolResult) {
    const { call, content } = turn.toolResult;
    messages.push(
      { role: "assistant", content: [{ type: "tool_use", id: call.id, name: call.name, input: call.input }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content }] },
    );
  }
  const body: Anthropic.MessageCreateParamsNonStreaming = {
    model,
    messages,
    max_tokens: turn.maxTokens,
    tools: [{ name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, input_schema: WEATHER_TOOL.parameters }],
    thinking: turn.thinking ? { type: "enabled", budget_tokens: 1024 } : { type: "disabled" },
  };
  const message = turn.stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body);
  let reasoning = "";
  let text = "";
  const toolCalls: Outcome["toolCalls"] = [];
  for (const block of message.content) {
    if (block.type === "thinking") reasoning += block.thinking;
    else if (block.type === "text") text += block.text;
    else if (block.type === "tool_use") toolCalls.push({ id: block.id, name: block.name, input: block.input });
  }
  return { reasoning, text, toolCalls, stop: stopOf(message.stop_reason) };
}

/** Asks through `POST /v1/responses` with the openai SDK. */
export async function viaResponses(client: OpenAI, model: string, turn: Turn): Promise<Outcome> {
  const input: OpenAI.Responses.ResponseInputItem[] = [{ role: "user", content: QUESTION }];
  if (turn.toolResult) {
    const { call, content } = turn.toolResult;
    input.push(
      { type: "function_call", call_id: call.id, name: call.name, arguments: JSON.stringify(call.input) },
      { type: "function_call_output", call_id: call.id, output: content },
    );
  }
  const body = {
    model,
    input,
    max_output_tokens: turn.maxTokens,
    temperature: 0,
    tools: [{ type: "function" as const, strict: false, ...WEATHER_TOOL }],
    enable_thinking: turn.thinking,
  };
  const response = turn.stream
    ? await client.responses.stream(body).finalResponse()
    : await client.responses.create(body as OpenAI.Responses.ResponseCreateParamsNonStreaming);
  let reasoning = "";
  const toolCalls: Outcome["toolCalls"] = [];
  for (const item of response.output) {
    if (item.type === "reasoning") reasoning += item.summary.map((part) => part.text).join("");
    else if (item.type === "function_call") {
      toolCalls.push({ id: item.call_id, name: item.name, input: JSON.parse(item.arguments) });
    }
  }
  const stop =
    response.status === "incomplete"
      ? "length"
      : toolCalls.length > 0
        ? "tool"
        : response.status === "completed"
          ? "end"
          : (response.status ?? "");
  return { reasoning, text: response.output_text, toolCalls, stop };
}

/** The three dialects, by name, for table-driven tests. */
export const DIALECTS = {
  chat: (ithaca: { baseURL: string; url: string }, model: string, turn: Turn) =>
    viaChat(new OpenAI({ baseURL: ithaca.baseURL, apiKey: "client-key", maxRetries: 0 }), model, turn),
  messages: (ithaca: { baseURL: string; url: string }, model: string, turn: Turn) =>
    viaMessages(new Anthropic({ baseURL: ithaca.url, apiKey: "client-key", maxRetries: 0 }), model, turn),
  responses: (ithaca: { baseURL: string; url: string }, model: string, turn: Turn) =>
    viaResponses(new OpenAI({ baseURL: ithaca.baseURL, apiKey: "client-key", maxRetries: 0 }), model, turn),
} as const;
