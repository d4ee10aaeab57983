/**
 * Anthropic Messages request → canonical chat request (an Anthropic client in front of an OpenAI-dialect backend).
 * Anthropic API reference "Messages" on one side, OpenAI "Chat Completions" plus Ithaca's extensions (DESIGN §2) on
 * the other. The reverse direction, for Anthropic upstreams, is `chatToMessages` (src/backends/anthropic/request.ts).
 *
 * Decisions (each tested in test/translate/anthropic.test.ts):
 * - `system` (string or text blocks) becomes the first message, `role: "system"`, in the same form (string, or text
 *   parts); `cache_control` is dropped everywhere (prompt caching is the engine's business).
 * - A user turn's `tool_result` blocks become one `tool` message each, in order, BEFORE a user message holding the
 *   turn's remaining text and images. A result's content keeps its form (string, or text/image parts); `is_error`
 *   has no OpenAI field, so the model is told in the text: the content is prefixed with {@link TOOL_ERROR_PREFIX}.
 * - An assistant turn's text blocks are concatenated into `content` (null when it only calls tools), `thinking` blocks
 *   into `reasoning_content`, `tool_use` blocks become `tool_calls` (`arguments` = JSON of `input`);
 *   `redacted_thinking` is dropped (encrypted: no other engine can read it).
 * - Images: base64 → `image_url` with a `data:` URL, `url` → `image_url`; a Files-API image, a `document`, or a block
 *   in a turn that cannot hold it is refused with a 400 naming the block (`messages.N.content.M`).
 * - Tools: client tools become function tools (`input_schema` → `parameters`); Anthropic's typed tools (web search,
 *   bash...) cannot run elsewhere and are refused (`tools.N`). `tool_choice` auto/any/tool/none → auto/required/the
 *   named function/none; `disable_parallel_tool_use` → `parallel_tool_calls: false`.
 * - `thinking` enabled → `enable_thinking: true` and `reasoning_effort` from the budget (< 4096 low, < 16384 medium,
 *   else high: the inverse of {@link THINKING_BUDGET_TOKENS}); adaptive → `enable_thinking: true`; disabled →
 *   `enable_thinking: false`. An explicit `enable_thinking` / `reasoning_effort` in the body wins.
 * - `output_config.format` (`json_schema`) → `response_format` `json_schema` (strict); the rest of `output_config` is
 *   carried.
 * - `stop_sequences` → `stop`; `max_tokens`, `temperature`, `top_p`, `top_k` copied; `metadata.user_id` → `user`;
 *   `stream: true` → `stream: true` + `stream_options.include_usage` (the usage chunk feeds `message_delta`).
 * - Fields Anthropic defines that mean nothing to other engines (`cache_control`, `service_tier`, the rest of
 *   `metadata`, `container`, `mcp_servers`, `context_management`) are dropped; every other field (`session_id`, `min_p`, `enable_thinking`...) is carried unchanged.
 */
import { OpenAIError } from "../protocol/errors.ts";
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import type { ContentBlockParam, CountTokensRequest, MessageParam, MessagesRequest } from "../protocol/anthropic.ts";
import { THINKING_BUDGET_TOKENS } from "../protocol/anthropic-openai.ts";

/** What an errored tool result's content starts with on the canonical side (Anthropic's `is_error: true`). */
export const TOOL_ERROR_PREFIX = "Error: ";

/** Anthropic fields that are consumed by the mapping or dropped; every other field is carried unchanged. */
const ANTHROPIC_FIELDS = new Set([
  "model",
  "max_tokens",
  "messages",
  "system",
  "stop_sequences",
  "temperature",
  "top_p",
  "top_k",
  "stream",
  "tools",
  "tool_choice",
  "thinking",
  "output_config",
  "metadata",
  "service_tier",
  "cache_control",
  // Anthropic server-side features with no counterpart elsewhere (strict OpenAI-dialect APIs reject them).
  "container",
  "mcp_servers",
  "context_management",
]);

/** A 400 naming the field Anthropic-side that cannot be translated. */
function refused(param: string, message: string): OpenAIError {
  return new OpenAIError(400, message, { param, code: "unsupported_parameter" });
}

type Part = Record<string, unknown>;

/** A user-side block (text, image) as an OpenAI content part; anything else is refused. */
function contentPart(block: ContentBlockParam, where: string): Part {
  if (block.type === "text") return { type: "text", text: block.text };
  if (block.type === "image") {
    const source = block.source;
    if (source.type === "base64") {
      return { type: "image_url", image_url: { url: `data:${source.media_type};base64,${source.data}` } };
    }
    if (source.type === "url") return { type: "image_url", image_url: { url: source.url } };
    throw refused(`${where}.source`, "Files-API images (source type 'file') cannot be sent to this model");
  }
  if (block.type === "document") throw refused(where, "document blocks are not supported by this model");
  throw refused(where, `a '${block.type}' block is not allowed here`);
}

/** `content` of an errored tool result, marked for the model (see {@link TOOL_ERROR_PREFIX}). */
function markError(content: string | Part[]): string | Part[] {
  return typeof content === "string"
    ? TOOL_ERROR_PREFIX + content
    : [{ type: "text", text: TOOL_ERROR_PREFIX }, ...content];
}

/** A `tool_result` block as a `tool` message. */
function toolMessage(block: Extract<ContentBlockParam, { type: "tool_result" }>, where: string): Part {
  const raw = block.content ?? "";
  const content =
    typeof raw === "string"
      ? raw
      : raw.map((inner, k) => contentPart(inner as ContentBlockParam, `${where}.content.${k}`));
  return { role: "tool", tool_call_id: block.tool_use_id, content: block.is_error ? markError(content) : content };
}

/** A user turn: its tool results first (one `tool` message each), then the rest as one user message. */
function userMessages(content: MessageParam["content"], index: number): Part[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const tools: Part[] = [];
  const parts: Part[] = [];
  content.forEach((block, j) => {
    const where = `messages.${index}.content.${j}`;
    if (block.type === "tool_result") tools.push(toolMessage(block, where));
    else parts.push(contentPart(block, where));
  });
  return parts.length > 0 ? [...tools, { role: "user", content: parts }] : tools;
}

/** An assistant turn: text, reasoning and tool calls of one OpenAI assistant message. */
function assistantMessage(content: MessageParam["content"], index: number): Part {
  if (typeof content === "string") return { role: "assistant", content };
  const texts: string[] = [];
  const reasoning: string[] = [];
  const calls: Part[] = [];
  content.forEach((block, j) => {
    if (block.type === "text") texts.push(block.text);
    else if (block.type === "thinking") reasoning.push(block.thinking);
    else if (block.type === "tool_use") {
      calls.push({
        id: block.id,
        type: "function",
        function: { name: block.name, arguments: JSON.stringify(block.input) },
      });
    } else if (block.type !== "redacted_thinking") {
      throw refused(`messages.${index}.content.${j}`, `a '${block.type}' block is not allowed in an assistant message`);
    }
  });
  const message: Part = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("") : calls.length > 0 ? null : "",
  };
  if (reasoning.length > 0) message.reasoning_content = reasoning.join("");
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/** `system` as the leading system message (none when absent or empty). */
function systemMessages(system: MessagesRequest["system"]): Part[] {
  if (system === undefined || system.length === 0) return [];
  const content = typeof system === "string" ? system : system.map((block) => ({ type: "text", text: block.text }));
  return [{ role: "system", content }];
}

/** A client tool as an OpenAI function tool; Anthropic's typed tools are refused. */
function functionTool(tool: NonNullable<MessagesRequest["tools"]>[number], index: number): Part {
  if (tool.type != null && tool.type !== "custom") {
    throw refused(
      `tools.${index}.type`,
      `tool '${tool.name}' of type '${tool.type}' is an Anthropic built-in tool; only client tools with an ` +
        "input_schema can be used with this model",
    );
  }
  if (tool.input_schema === undefined)
    throw refused(`tools.${index}.input_schema`, "a client tool needs an input_schema");
  const fn: Part = { name: tool.name, parameters: tool.input_schema };
  if (tool.description !== undefined) fn.description = tool.description;
  if (typeof tool.strict === "boolean") fn.strict = tool.strict;
  return { type: "function", function: fn };
}

/** The `reasoning_effort` a thinking budget reaches (the inverse of {@link THINKING_BUDGET_TOKENS}). */
function effortOfBudget(budget: number): "low" | "medium" | "high" {
  if (budget >= THINKING_BUDGET_TOKENS.high) return "high";
  return budget >= THINKING_BUDGET_TOKENS.medium ? "medium" : "low";
}

/**
 * Maps `output_config.format` (structured outputs: `{type: "json_schema", schema}`) onto `response_format`
 * `json_schema` (strict); the rest of `output_config` (`effort`) is carried as sent.
 */
function applyOutputConfig(request: MessagesRequest | CountTokensRequest, chat: CanonicalChatRequest): void {
  const config = request.output_config as { format?: { type?: unknown; schema?: unknown } | null } | undefined;
  if (config == null || typeof config !== "object") return;
  const { format, ...rest } = config;
  if (Object.keys(rest).length > 0) chat.output_config = rest;
  if (format == null) return;
  if (format.type !== "json_schema") {
    throw refused("output_config.format.type", `output_config.format type '${String(format.type)}' is not supported`);
  }
  chat.response_format = { type: "json_schema", json_schema: { name: "output", schema: format.schema, strict: true } };
}

/** Maps `thinking` onto `enable_thinking` / `reasoning_effort`, unless the body set those itself. */
function applyThinking(request: MessagesRequest | CountTokensRequest, chat: CanonicalChatRequest): void {
  const thinking = request.thinking;
  if (thinking === undefined) return;
  if (request.enable_thinking == null) chat.enable_thinking = thinking.type !== "disabled";
  if (thinking.type === "enabled" && request.reasoning_effort == null) {
    chat.reasoning_effort = effortOfBudget(thinking.budget_tokens);
  }
}

/**
 * Translates a validated Anthropic Messages (or count-tokens) request into the canonical chat request (see the module
 * comment for every mapping). `model` is kept as given.
 * @throws OpenAIError 400 naming the block or tool that cannot be translated (`messages.N.content.M`, `tools.N`).
 */
export function messagesToChat(request: MessagesRequest | CountTokensRequest): CanonicalChatRequest {
  const chat: CanonicalChatRequest = { model: request.model, messages: [] };
  for (const [key, value] of Object.entries(request)) if (!ANTHROPIC_FIELDS.has(key)) chat[key] = value;
  chat.messages = [
    ...systemMessages(request.system),
    ...request.messages.flatMap((message, index) =>
      message.role === "user" ? userMessages(message.content, index) : [assistantMessage(message.content, index)],
    ),
  ];
  if (request.max_tokens !== undefined) chat.max_tokens = request.max_tokens;
  for (const field of ["temperature", "top_p", "top_k"] as const) {
    if (request[field] !== undefined) chat[field] = request[field];
  }
  if (request.stop_sequences !== undefined) chat.stop = request.stop_sequences;
  if (request.stream !== undefined) chat.stream = request.stream;
  if (request.stream === true) chat.stream_options = { include_usage: true };
  if (request.tools !== undefined) chat.tools = request.tools.map(functionTool);
  const choice = request.tool_choice;
  if (choice !== undefined) {
    const mapped = { auto: "auto", any: "required", none: "none" } as const;
    chat.tool_choice =
      choice.type === "tool" ? { type: "function", function: { name: choice.name } } : mapped[choice.type];
    if (choice.type !== "none" && choice.disable_parallel_tool_use === true) chat.parallel_tool_calls = false;
  }
  applyThinking(request, chat);
  applyOutputConfig(request, chat);
  if (request.metadata?.user_id != null) chat.user = request.metadata.user_id;
  return chat;
}
