/**
 * Valibot schemas of the OpenAI chat-completions request, the canonical request form inside Ithaca (DESIGN §2).
 *
 * Every object is a `looseObject`: fields this schema does not know (provider extensions such as `top_k`, `min_p`,
 * `repetition_penalty`, `x_custom`...) are kept and reach the backend unchanged; known fields are type-checked so a
 * bad request fails here with a 400 naming the field. Optional fields accept `null` like the OpenAI API does, except
 * `stream`. Ranges follow the OpenAI API reference. Extensions: `session_id` (prefix-cache key), `enable_thinking`,
 * `reasoning_effort` (reference/odyssai-x-wire.md §1.3).
 */
import * as v from "valibot";

const TextPart = v.looseObject({ type: v.literal("text"), text: v.string() });
const ImagePart = v.looseObject({
  type: v.literal("image_url"),
  image_url: v.looseObject({ url: v.string(), detail: v.nullish(v.picklist(["auto", "low", "high"])) }),
});
const AudioPart = v.looseObject({
  type: v.literal("input_audio"),
  input_audio: v.looseObject({ data: v.string(), format: v.string() }),
});
const FilePart = v.looseObject({ type: v.literal("file"), file: v.looseObject({}) });
const RefusalPart = v.looseObject({ type: v.literal("refusal"), refusal: v.string() });

/** One element of an array `content`. */
export const ContentPart = v.variant("type", [TextPart, ImagePart, AudioPart, FilePart, RefusalPart]);

/** `content` as a plain string or an array of parts. */
const Content = v.union([v.string(), v.array(ContentPart)]);

/** A tool call as an assistant message carries it (and as clients echo it back in history). */
export const ToolCall = v.looseObject({
  id: v.string(),
  type: v.nullish(v.string()),
  function: v.looseObject({ name: v.string(), arguments: v.string() }),
});

/**
 * One message; the `role` picks the shape. valibot's `variant` tries the options in order and builds an issue for each
 * `role` that does not match, so the common roles come first (a 12-message chat validates about 20% faster).
 */
export const ChatMessage = v.variant("role", [
  v.looseObject({ role: v.literal("user"), content: Content, name: v.nullish(v.string()) }),
  v.looseObject({
    role: v.literal("assistant"),
    content: v.nullish(Content),
    name: v.nullish(v.string()),
    tool_calls: v.nullish(v.array(ToolCall)),
    refusal: v.nullish(v.string()),
  }),
  v.looseObject({ role: v.literal("system"), content: Content, name: v.nullish(v.string()) }),
  v.looseObject({ role: v.literal("tool"), content: Content, tool_call_id: v.string() }),
  v.looseObject({ role: v.literal("developer"), content: Content, name: v.nullish(v.string()) }),
]);

/** A tool the model may call. */
export const Tool = v.looseObject({
  type: v.string(),
  function: v.optional(
    v.looseObject({
      name: v.string(),
      description: v.nullish(v.string()),
      parameters: v.nullish(v.record(v.string(), v.unknown())),
      strict: v.nullish(v.boolean()),
    }),
  ),
});

const ToolChoice = v.union([
  v.picklist(["none", "auto", "required"]),
  v.looseObject({ type: v.string(), function: v.optional(v.looseObject({ name: v.string() })) }),
]);

const ResponseFormat = v.variant("type", [
  v.looseObject({ type: v.literal("text") }),
  v.looseObject({ type: v.literal("json_object") }),
  v.looseObject({
    type: v.literal("json_schema"),
    json_schema: v.looseObject({ name: v.string(), schema: v.nullish(v.record(v.string(), v.unknown())) }),
  }),
]);

const number = (min: number, max: number) => v.nullish(v.pipe(v.number(), v.minValue(min), v.maxValue(max)));
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.nullish(v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max)));

/** `POST /v1/chat/completions` request body (OpenAI fields, Ithaca extensions, anything else passed through). */
export const ChatCompletionRequestSchema = v.looseObject({
  model: v.pipe(v.string(), v.minLength(1)),
  messages: v.pipe(v.array(ChatMessage), v.minLength(1)),
  stream: v.optional(v.boolean()),
  stream_options: v.nullish(v.looseObject({ include_usage: v.nullish(v.boolean()) })),
  temperature: number(0, 2),
  top_p: number(0, 1),
  max_tokens: integer(0),
  max_completion_tokens: integer(0),
  stop: v.nullish(v.union([v.string(), v.array(v.string())])),
  seed: integer(Number.MIN_SAFE_INTEGER),
  n: integer(1, 128),
  presence_penalty: number(-2, 2),
  frequency_penalty: number(-2, 2),
  logit_bias: v.nullish(v.record(v.string(), v.number())),
  logprobs: v.nullish(v.boolean()),
  top_logprobs: integer(0, 20),
  tools: v.nullish(v.array(Tool)),
  tool_choice: v.nullish(ToolChoice),
  parallel_tool_calls: v.nullish(v.boolean()),
  response_format: v.nullish(ResponseFormat),
  user: v.nullish(v.string()),
  metadata: v.nullish(v.record(v.string(), v.string())),
  session_id: v.nullish(v.string()),
  enable_thinking: v.nullish(v.boolean()),
  reasoning_effort: v.nullish(v.string()),
});

/** A validated chat-completions request: the OpenAI fields typed, every other field kept as sent. */
export type ChatCompletionRequest = v.InferOutput<typeof ChatCompletionRequestSchema>;
