/**
 * The Anthropic Messages dialect (Anthropic API reference, "Messages", "Count tokens" and "Streaming Messages";
 * `@anthropic-ai/sdk` resources/messages): valibot schemas of the request bodies Ithaca accepts on `/v1/messages` and
 * `/v1/messages/count_tokens`, and the types of the answers (the `message` object and the stream events).
 *
 * Every object is a `looseObject`: fields this schema does not know are kept (Ithaca extensions such as `session_id`,
 * `enable_thinking`, `reasoning_effort`, `min_p`; Anthropic fields added later); known fields are type-checked so a bad
 * request fails with a 400 naming the field (`validationError` in errors.ts). Ranges follow Anthropic's reference:
 * `temperature` 0..1, `max_tokens` ≥ 1. Content blocks Anthropic only accepts in some positions (a `document`, an
 * `image` in an assistant turn) pass the schema and are judged by the translation, which names the block.
 */
import * as v from "valibot";

const CacheControl = v.nullish(v.looseObject({ type: v.string() }));

/** `{type:"text", text}`; `cache_control` and `citations` allowed. */
const TextBlock = v.looseObject({ type: v.literal("text"), text: v.string(), cache_control: CacheControl });

/** An image: inline base64 (`media_type` such as `image/png`), a URL, or a Files-API id. */
const ImageBlock = v.looseObject({
  type: v.literal("image"),
  source: v.variant("type", [
    v.looseObject({ type: v.literal("base64"), media_type: v.string(), data: v.string() }),
    v.looseObject({ type: v.literal("url"), url: v.string() }),
    v.looseObject({ type: v.literal("file"), file_id: v.string() }),
  ]),
  cache_control: CacheControl,
});

/** A PDF or text document; accepted here, refused by translation to engines that cannot read one. */
const DocumentBlock = v.looseObject({
  type: v.literal("document"),
  source: v.looseObject({ type: v.string() }),
  cache_control: CacheControl,
});

/** A tool call the assistant made (history): `input` is the arguments object. */
const ToolUseBlock = v.looseObject({
  type: v.literal("tool_use"),
  id: v.string(),
  name: v.string(),
  input: v.record(v.string(), v.unknown()),
  cache_control: CacheControl,
});

/** The result of a tool call, sent in a user turn: text, or text/image/document blocks. */
const ToolResultBlock = v.looseObject({
  type: v.literal("tool_result"),
  tool_use_id: v.string(),
  content: v.optional(v.union([v.string(), v.array(v.variant("type", [TextBlock, ImageBlock, DocumentBlock]))])),
  is_error: v.optional(v.boolean()),
  cache_control: CacheControl,
});

/** The model's visible reasoning (history); `signature` is Anthropic's proof that it is unaltered. */
const ThinkingBlock = v.looseObject({
  type: v.literal("thinking"),
  thinking: v.string(),
  signature: v.optional(v.string()),
});

/** Reasoning Anthropic returned encrypted (history). */
const RedactedThinkingBlock = v.looseObject({ type: v.literal("redacted_thinking"), data: v.string() });

/** One content block of a request message. */
export const ContentBlockSchema = v.variant("type", [
  TextBlock,
  ImageBlock,
  DocumentBlock,
  ToolUseBlock,
  ToolResultBlock,
  ThinkingBlock,
  RedactedThinkingBlock,
]);

/** One request message: `content` is a string or blocks. */
const MessageParamSchema = v.looseObject({
  role: v.picklist(["user", "assistant"]),
  content: v.union([v.string(), v.array(ContentBlockSchema)]),
});

/**
 * A tool: a client tool (`type` absent or `custom`) needs `input_schema` (a JSON Schema object); Anthropic's typed
 * tools (`bash_20250124`, `web_search_20250305`...) are accepted loosely and judged by the translation.
 */
const ToolSchema = v.pipe(
  v.looseObject({
    name: v.string(),
    type: v.nullish(v.string()),
    description: v.optional(v.string()),
    input_schema: v.optional(v.record(v.string(), v.unknown())),
    cache_control: CacheControl,
  }),
  v.forward(
    v.check(
      (tool) => (tool.type != null && tool.type !== "custom") || tool.input_schema !== undefined,
      "a client tool needs an input_schema (a JSON Schema object)",
    ),
    ["input_schema"],
  ),
);

const ToolChoiceSchema = v.variant("type", [
  v.looseObject({ type: v.literal("auto"), disable_parallel_tool_use: v.optional(v.boolean()) }),
  v.looseObject({ type: v.literal("any"), disable_parallel_tool_use: v.optional(v.boolean()) }),
  v.looseObject({ type: v.literal("tool"), name: v.string(), disable_parallel_tool_use: v.optional(v.boolean()) }),
  v.looseObject({ type: v.literal("none") }),
]);

/** Extended thinking: `enabled` with a token budget, `disabled`, or `adaptive` (the model decides). */
const ThinkingConfigSchema = v.variant("type", [
  v.looseObject({ type: v.literal("enabled"), budget_tokens: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
  v.looseObject({ type: v.literal("disabled") }),
  v.looseObject({ type: v.literal("adaptive") }),
]);

const unit = v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)));

/** The fields `/v1/messages` and `/v1/messages/count_tokens` share. */
const sharedEntries = {
  model: v.pipe(v.string(), v.minLength(1)),
  messages: v.pipe(v.array(MessageParamSchema), v.minLength(1)),
  system: v.optional(v.union([v.string(), v.array(TextBlock)])),
  tools: v.optional(v.array(ToolSchema)),
  tool_choice: v.optional(ToolChoiceSchema),
  thinking: v.optional(ThinkingConfigSchema),
  stop_sequences: v.optional(v.array(v.string())),
  temperature: unit,
  top_p: unit,
  top_k: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  metadata: v.optional(v.looseObject({ user_id: v.nullish(v.string()) })),
  service_tier: v.optional(v.string()),
  session_id: v.nullish(v.string()),
  enable_thinking: v.nullish(v.boolean()),
  reasoning_effort: v.nullish(v.string()),
};

/** `POST /v1/messages` request body: `max_tokens` (≥ 1) is required, `stream` optional. */
export const MessagesRequestSchema = v.looseObject({
  ...sharedEntries,
  max_tokens: v.pipe(v.number(), v.integer(), v.minValue(1)),
  stream: v.optional(v.boolean()),
});

/** `POST /v1/messages/count_tokens` request body: the same as {@link MessagesRequestSchema}, `max_tokens` optional. */
export const CountTokensRequestSchema = v.looseObject({
  ...sharedEntries,
  max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  stream: v.optional(v.boolean()),
});

/** A validated `/v1/messages` request: Anthropic fields typed, every other field kept as sent. */
export type MessagesRequest = v.InferOutput<typeof MessagesRequestSchema>;
/** A validated `/v1/messages/count_tokens` request. */
export type CountTokensRequest = v.InferOutput<typeof CountTokensRequestSchema>;
/** One content block of a request message. */
export type ContentBlockParam = v.InferOutput<typeof ContentBlockSchema>;
/** One request message. */
export type MessageParam = v.InferOutput<typeof MessageParamSchema>;

/** Why the model stopped (`refusal`: the safety system stopped it; `pause_turn`: a long server-tool turn paused). */
export type AnthropicStopReason =
  | "end_turn"
  | "max_tokens"
  | "stop_sequence"
  | "tool_use"
  | "pause_turn"
  | "refusal"
  | "model_context_window_exceeded";

/** Token counts. `input_tokens` EXCLUDES the cached prompt tokens, which are counted in the two cache fields. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** `{type:"text"}` answer block. */
export interface AnthropicTextBlock {
  type: "text";
  text: string;
}

/** `{type:"thinking"}` answer block; `signature` is "" when the answer did not come from Anthropic. */
export interface AnthropicThinkingBlock {
  type: "thinking";
  thinking: string;
  signature: string;
}

/** `{type:"redacted_thinking"}` answer block (encrypted reasoning). */
export interface AnthropicRedactedThinkingBlock {
  type: "redacted_thinking";
  data: string;
}

/** `{type:"tool_use"}` answer block: a call of a client tool, `input` being the arguments object. */
export interface AnthropicToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/** A content block of an answer. */
export type AnthropicContentBlock =
  | AnthropicTextBlock
  | AnthropicThinkingBlock
  | AnthropicRedactedThinkingBlock
  | AnthropicToolUseBlock;

/** The `message` object `/v1/messages` answers with (`stream: false`), and that `message_start` carries. */
export interface AnthropicMessage {
  /** `msg_…`. */
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicContentBlock[];
  /** Null only in `message_start`. */
  stop_reason: AnthropicStopReason | null;
  /** The stop sequence that ended the answer when `stop_reason` is `stop_sequence`. */
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** The body of an Anthropic error (HTTP body, and the `data` of an `error` stream event). */
export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
  request_id?: string;
}

/** A `content_block_delta`'s `delta`. */
export type AnthropicBlockDelta =
  | { type: "text_delta"; text: string }
  | { type: "input_json_delta"; partial_json: string }
  | { type: "thinking_delta"; thinking: string }
  | { type: "signature_delta"; signature: string };

/**
 * One event of a Messages stream. Order: `message_start`; per block `content_block_start`, `content_block_delta`…,
 * `content_block_stop` (increasing `index`); `message_delta` (stop reason, cumulative usage); `message_stop`. `ping`
 * may come anywhere; `error` ends the stream.
 */
export type AnthropicStreamEvent =
  | { type: "message_start"; message: AnthropicMessage }
  | { type: "content_block_start"; index: number; content_block: AnthropicContentBlock }
  | { type: "content_block_delta"; index: number; delta: AnthropicBlockDelta }
  | { type: "content_block_stop"; index: number }
  | {
      type: "message_delta";
      delta: { stop_reason: AnthropicStopReason | null; stop_sequence: string | null };
      usage: Partial<AnthropicUsage> & { output_tokens: number };
    }
  | { type: "message_stop" }
  | { type: "ping" }
  | AnthropicErrorBody;
