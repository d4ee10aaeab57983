/**
 * Canonical chat request → Anthropic Messages request (an OpenAI client in front of an Anthropic upstream). OpenAI
 * "Chat Completions" on one side, Anthropic API reference "Messages" (and "Extended thinking") on the other. The
 * reverse, for Anthropic clients, is `messagesToChat` (src/translate/anthropic-request.ts).
 *
 * Decisions (each tested in test/backends/anthropic/request.test.ts, refusals in request-refusals.test.ts):
 * - Every `system`/`developer` message, wherever it stands, is hoisted into `system`: a lone one keeps its form
 *   (string, or text blocks); several are joined by a blank line ("\n\n").
 * - Anthropic requires user/assistant alternation: consecutive same-role turns are merged, so consecutive `tool`
 *   messages (parallel calls) become ONE user message of `tool_result` blocks; in a merged user message the
 *   `tool_result` blocks come first, as Anthropic requires.
 * - Assistant `tool_calls` → `tool_use` blocks (`arguments` parsed; not a JSON object → 400 naming
 *   `messages.N.tool_calls.M.function.arguments`); `reasoning_content` in history is dropped, because Anthropic only
 *   accepts thinking blocks carrying its own signature; an assistant turn with nothing left is skipped.
 * - Images: a `data:` URL → base64 source, an http(s) URL → url source, anything else 400. Audio and file parts → 400.
 * - `max_tokens` = `max_completion_tokens` ?? `max_tokens` ?? `defaultMaxTokens` (4096); `temperature` is clamped to
 *   Anthropic's 0..1 (OpenAI allows up to 2); `top_p`, `top_k`, `stream` copied; `stop` → `stop_sequences`;
 *   `user` → `metadata.user_id`; `parallel_tool_calls: false` → `tool_choice.disable_parallel_tool_use`.
 * - Thinking: `enable_thinking: true` or a `reasoning_effort` (minimal/low 1024, medium 4096, high 16384 budget
 *   tokens; medium when only `enable_thinking` is set) → `thinking: {type: "enabled", budget_tokens}`;
 *   `enable_thinking: false` or effort `none` → no `thinking`. Anthropic needs `budget_tokens` < `max_tokens`: when
 *   the client set no maximum, the budget is added to the default; otherwise it is capped at `max_tokens - 1`, and a
 *   maximum too small for Anthropic's 1024-token minimum is refused (400 `max_tokens`).
 * - Refused with a 400 naming the field (Anthropic cannot honour them, and sampling must not change silently):
 *   `n` > 1, `logprobs`, `top_logprobs` > 0, `response_format` other than text, a non-empty `logit_bias`, non-zero
 *   `presence_penalty` / `frequency_penalty` / `min_p`, `repetition_penalty` ≠ 1, `audio` output.
 * - Dropped (no effect on the answer, and Anthropic rejects unknown fields): `stream_options`, `seed`, `session_id`,
 *   `metadata`, `store`, `service_tier` and any other field not named here.
 */
import * as v from "valibot";
import type { ContentBlockParam, MessageParam, MessagesRequest } from "../../protocol/anthropic.ts";
import { THINKING_BUDGET_TOKENS } from "../../protocol/anthropic-openai.ts";
import { OpenAIError, validationError } from "../../protocol/errors.ts";
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from "../../protocol/openai-request.ts";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";

/** Anthropic's smallest `budget_tokens`. */
const MIN_THINKING_BUDGET = 1024;

/** Options of {@link chatToMessages}. */
export interface ChatToMessagesOptions {
  /** `max_tokens` when the request sets neither `max_completion_tokens` nor `max_tokens`; default 4096. */
  defaultMaxTokens?: number;
}

type Chat = ChatCompletionRequest;
type ChatMessage = Chat["messages"][number];
type NonSystemMessage = Exclude<ChatMessage, { role: "system" | "developer" }>;
type TextBlock = Extract<ContentBlockParam, { type: "text" }>;
type MediaBlock = Extract<ContentBlockParam, { type: "text" | "image" }>;
type Turn = { role: MessageParam["role"]; content: string | ContentBlockParam[] };

const bad = (param: string, message: string) => new OpenAIError(400, message, { param, code: "invalid_value" });
const unsupported = (param: string, message: string) =>
  new OpenAIError(400, message, { param, code: "unsupported_parameter" });

/** Fields Anthropic cannot honour, with the test that the request really uses them. */
const REFUSED: ReadonlyArray<[field: string, used: (value: unknown) => boolean]> = [
  ["n", (n) => typeof n === "number" && n > 1],
  ["logprobs", (on) => on === true],
  ["top_logprobs", (k) => typeof k === "number" && k > 0],
  ["response_format", (format) => format != null && (format as { type: string }).type !== "text"],
  ["logit_bias", (bias) => bias != null && Object.keys(bias).length > 0],
  ["presence_penalty", (p) => p != null && p !== 0],
  ["frequency_penalty", (p) => p != null && p !== 0],
  ["min_p", (p) => p != null && p !== 0],
  ["repetition_penalty", (p) => p != null && p !== 1],
  ["audio", (audio) => audio != null],
];

function refuseUnsupported(chat: Chat): void {
  for (const [field, used] of REFUSED) {
    if (used(chat[field])) throw unsupported(field, `'${field}' is not supported by Anthropic models`);
  }
}

/** The text of a system/developer message (text parts only). */
function systemText(message: ChatMessage, index: number): string | TextBlock[] {
  if (typeof message.content === "string") return message.content;
  return (message.content ?? []).map((part, j) => {
    if (part.type !== "text") throw unsupported(`messages.${index}.content.${j}`, "system messages hold text only");
    return { type: "text", text: part.text };
  });
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** An OpenAI content part as an Anthropic block (text or image); other parts are refused. */
function block(part: Exclude<ChatMessage["content"], string | null | undefined>[number], where: string): MediaBlock {
  if (part.type === "text") return { type: "text", text: part.text };
  if (part.type === "refusal") return { type: "text", text: part.refusal };
  if (part.type !== "image_url")
    throw unsupported(where, `'${part.type}' content parts are not supported by Anthropic models`);
  const url = part.image_url.url;
  const data = DATA_URL.exec(url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1]!, data: data[2]! } };
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  throw bad(`${where}.image_url.url`, "an image must be a base64 data: URL or an http(s) URL");
}

function blocks(content: ChatMessage["content"], where: string): MediaBlock[] {
  if (content == null) return [];
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  return content.map((part, j) => block(part, `${where}.${j}`));
}

/** Assistant `arguments` as the `tool_use` input object. */
function toolInput(args: string, where: string): Record<string, unknown> {
  if (!args.trim()) return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    throw bad(where, "tool call arguments must be a JSON object (they are not valid JSON)");
  }
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw bad(where, "tool call arguments must be a JSON object");
  }
  return input as Record<string, unknown>;
}

/** One non-system message as an Anthropic turn (undefined: nothing to send). */
function turn(message: NonSystemMessage, index: number): Turn | undefined {
  const where = `messages.${index}.content`;
  if (message.role === "user") {
    return {
      role: "user",
      content: typeof message.content === "string" ? message.content : blocks(message.content, where),
    };
  }
  if (message.role === "tool") {
    const content = typeof message.content === "string" ? message.content : blocks(message.content, where);
    return { role: "user", content: [{ type: "tool_result", tool_use_id: message.tool_call_id, content }] };
  }
  const calls = (message.tool_calls ?? []).map(
    (call, k): ContentBlockParam => ({
      type: "tool_use",
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments, `messages.${index}.tool_calls.${k}.function.arguments`),
    }),
  );
  if (typeof message.content === "string" && calls.length === 0) {
    return message.content ? { role: "assistant", content: message.content } : undefined;
  }
  const content = [...blocks(message.content, where), ...calls];
  return content.length > 0 ? { role: "assistant", content } : undefined;
}

const asBlocks = (content: Turn["content"]): ContentBlockParam[] =>
  typeof content === "string" ? (content ? [{ type: "text", text: content }] : []) : content;

/** Appends a turn, merging it into the previous one of the same role (tool results first in a user turn). */
function append(turns: Turn[], next: Turn): void {
  const last = turns.at(-1);
  if (last?.role !== next.role) return void turns.push(next);
  const merged = [...asBlocks(last.content), ...asBlocks(next.content)];
  last.content =
    next.role === "user"
      ? [...merged.filter((b) => b.type === "tool_result"), ...merged.filter((b) => b.type !== "tool_result")]
      : merged;
}

/** Splits messages into the hoisted `system` and the alternating turns. */
function conversation(messages: Chat["messages"]): { system?: MessagesRequest["system"]; turns: Turn[] } {
  const system: Array<string | TextBlock[]> = [];
  const turns: Turn[] = [];
  messages.forEach((message, index) => {
    if (message.role === "system" || message.role === "developer") {
      system.push(systemText(message, index));
      return;
    }
    const next = turn(message, index);
    if (next) append(turns, next);
  });
  if (turns.length === 0) throw bad("messages", "at least one user or assistant message is required");
  if (system.length === 0) return { turns };
  if (system.length === 1) return { system: system[0], turns };
  const text = system.map((s) => (typeof s === "string" ? s : s.map((b) => b.text).join("")));
  return { system: text.join("\n\n"), turns };
}

function tools(chat: Chat): MessagesRequest["tools"] {
  return chat.tools?.map((tool, k) => {
    if (tool.type !== "function" || !tool.function) {
      throw unsupported(`tools.${k}.type`, `'${tool.type}' tools are not supported by Anthropic models`);
    }
    const fn = tool.function;
    const out: NonNullable<MessagesRequest["tools"]>[number] = {
      name: fn.name,
      input_schema: fn.parameters ?? { type: "object", properties: {} },
    };
    if (fn.description != null) out.description = fn.description;
    if (fn.strict != null) out.strict = fn.strict;
    return out;
  });
}

function toolChoice(chat: Chat): MessagesRequest["tool_choice"] {
  const choice = chat.tool_choice;
  let mapped: NonNullable<MessagesRequest["tool_choice"]> | undefined;
  if (choice === "auto" || choice === "none") mapped = { type: choice };
  else if (choice === "required") mapped = { type: "any" };
  else if (choice != null) {
    if (choice.type !== "function" || !choice.function) {
      throw unsupported("tool_choice", `tool_choice '${choice.type}' is not supported by Anthropic models`);
    }
    mapped = { type: "tool", name: choice.function.name };
  }
  if (chat.parallel_tool_calls === false && mapped?.type !== "none") {
    mapped = { ...(mapped ?? { type: "auto" }), disable_parallel_tool_use: true };
  }
  return mapped;
}

/** The thinking budget the request asks for, or undefined for none. */
function thinkingBudget(chat: Chat): number | undefined {
  const effort = chat.reasoning_effort;
  if (chat.enable_thinking === false || effort === "none") return undefined;
  if (effort == null) return chat.enable_thinking === true ? THINKING_BUDGET_TOKENS.medium : undefined;
  const level = effort === "minimal" ? "low" : effort;
  if (level !== "low" && level !== "medium" && level !== "high") {
    throw bad("reasoning_effort", `reasoning_effort must be none, minimal, low, medium or high (got '${effort}')`);
  }
  return THINKING_BUDGET_TOKENS[level];
}

/**
 * Translates a canonical chat request into an Anthropic Messages request (see the module comment for every mapping).
 * `model` is left as given (the caller puts the upstream's id in).
 * @throws OpenAIError 400 naming the field: invalid canonical fields (as `validationError` does), fields Anthropic
 *   cannot honour, tool call arguments that are not a JSON object, unusable images, a conversation with no turns.
 */
export function chatToMessages(request: CanonicalChatRequest, options: ChatToMessagesOptions = {}): MessagesRequest {
  const parsed = v.safeParse(ChatCompletionRequestSchema, request);
  if (!parsed.success) throw validationError(ChatCompletionRequestSchema, request);
  const chat = parsed.output;
  refuseUnsupported(chat);
  const { system, turns } = conversation(chat.messages);
  const asked = chat.max_completion_tokens ?? chat.max_tokens;
  const maxField = chat.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  if (asked === 0) throw bad(maxField, `'${maxField}' must be at least 1 for Anthropic models`);
  let maxTokens = asked ?? options.defaultMaxTokens ?? 4096;
  let budget = thinkingBudget(chat);
  if (budget !== undefined) {
    if (asked == null) maxTokens += budget;
    budget = Math.min(budget, maxTokens - 1);
    if (budget < MIN_THINKING_BUDGET) {
      throw bad(maxField, `extended thinking needs '${maxField}' above ${MIN_THINKING_BUDGET} (got ${maxTokens})`);
    }
  }
  const out: MessagesRequest = { model: chat.model, max_tokens: maxTokens, messages: turns };
  if (system !== undefined) out.system = system;
  if (chat.temperature != null) out.temperature = Math.min(chat.temperature, 1);
  if (chat.top_p != null) out.top_p = chat.top_p;
  if (chat.top_k != null) {
    if (typeof chat.top_k !== "number" || !Number.isInteger(chat.top_k) || chat.top_k < 0) {
      throw bad("top_k", "top_k must be a non-negative integer");
    }
    out.top_k = chat.top_k;
  }
  if (chat.stop != null) out.stop_sequences = typeof chat.stop === "string" ? [chat.stop] : chat.stop;
  const toolList = tools(chat);
  if (toolList !== undefined && toolList.length > 0) {
    out.tools = toolList;
    const choice = toolChoice(chat);
    if (choice !== undefined) out.tool_choice = choice;
  }
  if (budget !== undefined) out.thinking = { type: "enabled", budget_tokens: budget };
  if (chat.user != null) out.metadata = { user_id: chat.user };
  if (chat.stream !== undefined) out.stream = chat.stream;
  return out;
}
