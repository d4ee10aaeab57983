/**
 * Translates a Responses API request (OpenAI API reference, "Responses: create") into the canonical
 * chat-completions request (DESIGN §2; reference/odyssai-x-wire.md §1.5).
 *
 * Ithaca's `/v1/responses` is stateless: the whole conversation comes in `input`; nothing is stored, so
 * `previous_response_id` and `conversation` are refused and `store`, `metadata`, `truncation` and `include` are
 * accepted and not sent on. Every other field the client sent reaches the backend (renamed where chat completions
 * names it differently).
 */
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { ResponsesRequest } from "../protocol/responses.ts";

type InputItem = Exclude<ResponsesRequest["input"], string>[number];
type ContentPart = Exclude<Extract<InputItem, { role: string }>["content"], string>[number];
type ChatMessage = Record<string, unknown> & { role: string };
type ChatToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };

/** Maps one input content part onto a chat content part (`input_image` → `image_url`). */
function chatPart(part: ContentPart, param: string): Record<string, unknown> {
  switch (part.type) {
    case "input_text":
    case "output_text":
      return { type: "text", text: part.text };
    case "refusal":
      return { type: "refusal", refusal: part.refusal };
    case "input_image": {
      if (!part.image_url) {
        throw new OpenAIError(
          400,
          "Ithaca has no file store: send the image as image_url (an https or data: URL), not as file_id",
          { param: `${param}.image_url`, code: "unsupported_value" },
        );
      }
      const detail = part.detail ? { detail: part.detail } : {};
      return { type: "image_url", image_url: { url: part.image_url, ...detail } };
    }
  }
}

/** `content` of a message or a tool result: a string stays a string, parts are mapped one by one. */
function chatContent(content: string | ContentPart[], param: string): string | Array<Record<string, unknown>> {
  return typeof content === "string" ? content : content.map((part, index) => chatPart(part, `${param}.${index}`));
}

/**
 * An assistant message from history: its text parts joined into `content`, a refusal part into `refusal`
 * (chat's assistant message holds text and refusal apart).
 * @throws OpenAIError 400 naming the part for an image (an assistant message cannot hold one).
 */
function assistantMessage(content: string | ContentPart[], param: string): ChatMessage {
  if (typeof content === "string") return { role: "assistant", content };
  const text: string[] = [];
  const refusal: string[] = [];
  content.forEach((part, index) => {
    if (part.type === "input_image") {
      throw new OpenAIError(400, "an assistant message cannot hold an image", {
        param: `${param}.${index}.type`,
        code: "invalid_value",
      });
    }
    if (part.type === "refusal") refusal.push(part.refusal);
    else text.push(part.text);
  });
  return {
    role: "assistant",
    content: text.length > 0 ? text.join("") : null,
    ...(refusal.length > 0 ? { refusal: refusal.join("") } : {}),
  };
}

/**
 * `instructions` and `input` as chat messages: instructions first as a system message; a string input as one user
 * message; a `function_call` joins the assistant message just before it (so a turn's text and its parallel calls
 * form ONE assistant message with several `tool_calls`); `function_call_output` becomes a `tool` message;
 * `reasoning` items are skipped.
 */
function chatMessages(request: ResponsesRequest): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (request.instructions) messages.push({ role: "system", content: request.instructions });
  if (typeof request.input === "string") return [...messages, { role: "user", content: request.input }];
  request.input.forEach((item, index) => {
    const param = `input.${index}`;
    switch (item.type) {
      case "function_call": {
        const call: ChatToolCall = {
          id: item.call_id,
          type: "function",
          function: { name: item.name, arguments: item.arguments },
        };
        const last = messages.at(-1);
        if (last?.role === "assistant") last.tool_calls = [...((last.tool_calls as ChatToolCall[]) ?? []), call];
        else messages.push({ role: "assistant", content: null, tool_calls: [call] });
        return;
      }
      case "function_call_output":
        messages.push({
          role: "tool",
          tool_call_id: item.call_id,
          content: chatContent(item.output, `${param}.output`),
        });
        return;
      case "reasoning":
        return;
      default:
        messages.push(
          item.role === "assistant"
            ? assistantMessage(item.content, `${param}.content`)
            : { role: item.role, content: chatContent(item.content, `${param}.content`) },
        );
    }
  });
  if (messages.length === 0) {
    throw new OpenAIError(400, "'input' holds no message (only reasoning items)", {
      param: "input",
      code: "invalid_value",
    });
  }
  return messages;
}

/** `text.format` → `response_format`: a JSON schema moves under `json_schema` as chat completions nests it. */
function responseFormat(format: NonNullable<NonNullable<ResponsesRequest["text"]>["format"]>): Record<string, unknown> {
  if (format.type !== "json_schema") return { type: format.type };
  const { type, name, schema, description, strict } = format;
  const optional = {
    ...(description != null ? { description } : {}),
    ...(strict != null ? { strict } : {}),
  };
  return { type, json_schema: { name, schema, ...optional } };
}

/** Flat function tools → chat's nested `{type: "function", function: {...}}`. */
function chatTools(tools: NonNullable<ResponsesRequest["tools"]>): Array<Record<string, unknown>> {
  return tools.map(({ type, name, description, parameters, strict, ...rest }) => ({
    type,
    function: {
      ...rest,
      name,
      ...(description != null ? { description } : {}),
      ...(parameters != null ? { parameters } : {}),
      ...(strict != null ? { strict } : {}),
    },
  }));
}

/** Fails with a 400 naming `param` when the client asks for server-side state. */
function refuseState(param: string, value: unknown): void {
  if (value === undefined || value === null) return;
  throw new OpenAIError(
    400,
    `Ithaca's /v1/responses is stateless: responses are not stored, so '${param}' cannot be used; ` +
      "send the whole conversation in 'input'",
    { param, code: "unsupported_parameter" },
  );
}

/**
 * Builds the canonical chat-completions request for a validated Responses request.
 *
 * - `instructions` → a first `system` message; `input` → messages (see the item rules above); an `input_image`
 *   → an `image_url` part;
 * - `tools` flattened → nested function tools; `tool_choice` `{type: "function", name}` →
 *   `{type: "function", function: {name}}`; `max_output_tokens` → `max_tokens`; `reasoning.effort` →
 *   `reasoning_effort`; `text.format` → `response_format`; `text.verbosity` → `verbosity`;
 * - `stream: true` → `stream: true` with `stream_options.include_usage` (the final event reports usage);
 * - `store`, `metadata`, `truncation`, `include` are dropped; any other field (`temperature`, `top_p`, `user`,
 *   `parallel_tool_calls`, `top_k`, `min_p`, `session_id`, `enable_thinking`...) is carried over as sent.
 *
 * @throws OpenAIError 400 naming `previous_response_id` or `conversation` (stateless), `input` when it holds no
 *   message, `input.N.content.M.image_url` for an image sent by `file_id`, or `input.N.content.M.type` for an image
 *   in an assistant message.
 */
export function responsesToChat(request: ResponsesRequest): CanonicalChatRequest {
  refuseState("previous_response_id", request.previous_response_id);
  refuseState("conversation", request.conversation);
  const {
    input: _input,
    instructions: _instructions,
    tools,
    tool_choice,
    max_output_tokens,
    reasoning,
    text,
    stream,
    store: _store,
    metadata: _metadata,
    truncation: _truncation,
    include: _include,
    previous_response_id: _previous,
    ...carried
  } = request;
  const chat: CanonicalChatRequest = { ...carried, model: request.model, messages: chatMessages(request) };
  if (tools && tools.length > 0) chat.tools = chatTools(tools);
  if (tool_choice != null) {
    chat.tool_choice =
      typeof tool_choice === "string" ? tool_choice : { type: "function", function: { name: tool_choice.name } };
  }
  if (max_output_tokens != null) chat.max_tokens = max_output_tokens;
  if (reasoning?.effort != null) chat.reasoning_effort = reasoning.effort;
  if (text?.format != null) chat.response_format = responseFormat(text.format);
  if (text?.verbosity != null) chat.verbosity = text.verbosity;
  if (stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}
