/**
 * The OpenAI Responses API (`POST /v1/responses`, OpenAI API reference "Responses") as Ithaca serves it: a
 * stateless shim over the canonical chat-completions form (reference/odyssai-x-wire.md §1.5).
 *
 * - {@link ResponsesRequestSchema}: the request body (valibot). Every object is a `looseObject`, so extensions
 *   (`top_k`, `min_p`, `session_id`, `enable_thinking`...) are kept; known fields are type-checked so a bad request
 *   fails with a 400 naming the field (`input.2.type`, `tools.0.type`).
 * - {@link ResponseObject} and {@link ResponseStreamEvent}: what Ithaca answers, with the field names and shapes of
 *   the `openai` SDK's `Response` and `ResponseStreamEvent` types (the subset Ithaca produces).
 */
import * as v from "valibot";

const nullableString = v.nullish(v.string());

/**
 * A string, or else `schema`: picked by the input's type (not a `union`) so that a bad element is reported at its
 * own path (`input.2.type`) rather than as "expected string or array".
 */
function stringOr<TSchema extends v.GenericSchema>(schema: TSchema) {
  return v.lazy((input) => (typeof input === "string" ? v.string() : schema));
}
const number = (min: number, max: number) => v.nullish(v.pipe(v.number(), v.minValue(min), v.maxValue(max)));

const InputText = v.looseObject({ type: v.literal("input_text"), text: v.string() });
const OutputText = v.looseObject({ type: v.literal("output_text"), text: v.string() });
const Refusal = v.looseObject({ type: v.literal("refusal"), refusal: v.string() });
const InputImage = v.looseObject({
  type: v.literal("input_image"),
  image_url: nullableString,
  file_id: nullableString,
  detail: v.nullish(v.picklist(["auto", "low", "high"])),
});

/** One part of an input message's `content` (or of a `function_call_output`'s `output`). */
export const ResponsesContentPart = v.variant("type", [InputText, OutputText, Refusal, InputImage]);

const PartsOrString = stringOr(v.array(ResponsesContentPart));

/** A message in `input`; `type` may be left out (the API's "easy input message"). */
const MessageItem = v.looseObject({
  type: v.optional(v.literal("message")),
  role: v.picklist(["user", "assistant", "system", "developer"]),
  content: PartsOrString,
});
/** A call the model made earlier (history sent back by the client). */
const FunctionCallItem = v.looseObject({
  type: v.literal("function_call"),
  call_id: v.string(),
  name: v.string(),
  arguments: v.string(),
});
/** The client's result of a `function_call`. */
const FunctionCallOutputItem = v.looseObject({
  type: v.literal("function_call_output"),
  call_id: v.string(),
  output: PartsOrString,
});
/** An earlier reasoning item: accepted and not sent on (chat completions has no place for it). */
const ReasoningItem = v.looseObject({ type: v.literal("reasoning") });

/** One element of an array `input`; other item types (hosted tool calls, `item_reference`...) are refused. */
export const ResponsesInputItem = v.variant("type", [
  MessageItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  ReasoningItem,
]);

/** A flat function tool; built-in tools (`web_search`, `file_search`...) fail with a 400 naming `tools.N.type`. */
export const ResponsesFunctionTool = v.looseObject({
  type: v.literal(
    "function",
    (issue) =>
      `Ithaca's /v1/responses supports function tools only; the built-in tool ${issue.received} is not available`,
  ),
  name: v.pipe(v.string(), v.minLength(1)),
  description: nullableString,
  parameters: v.nullish(v.record(v.string(), v.unknown())),
  strict: v.nullish(v.boolean()),
});

const ToolChoice = v.lazy((input) =>
  typeof input === "string"
    ? v.picklist(["auto", "none", "required"])
    : v.looseObject({
        type: v.literal(
          "function",
          (issue) => `Ithaca's /v1/responses can force function tools only, not ${issue.received}`,
        ),
        name: v.string(),
      }),
);

const TextFormat = v.variant("type", [
  v.looseObject({ type: v.literal("text") }),
  v.looseObject({ type: v.literal("json_object") }),
  v.looseObject({
    type: v.literal("json_schema"),
    name: v.string(),
    schema: v.record(v.string(), v.unknown()),
    description: nullableString,
    strict: v.nullish(v.boolean()),
  }),
]);

/** `POST /v1/responses` request body (OpenAI fields, Ithaca extensions, anything else carried over). */
export const ResponsesRequestSchema = v.looseObject({
  model: v.pipe(v.string(), v.minLength(1)),
  input: stringOr(v.pipe(v.array(ResponsesInputItem), v.minLength(1))),
  instructions: nullableString,
  tools: v.nullish(v.array(ResponsesFunctionTool)),
  tool_choice: v.nullish(ToolChoice),
  parallel_tool_calls: v.nullish(v.boolean()),
  max_output_tokens: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
  temperature: number(0, 2),
  top_p: number(0, 1),
  stream: v.nullish(v.boolean()),
  reasoning: v.nullish(v.looseObject({ effort: nullableString, summary: nullableString })),
  text: v.nullish(v.looseObject({ format: v.nullish(TextFormat), verbosity: nullableString })),
  previous_response_id: nullableString,
  store: v.nullish(v.boolean()),
  metadata: v.nullish(v.record(v.string(), v.string())),
  user: nullableString,
  truncation: v.nullish(v.picklist(["auto", "disabled"])),
  session_id: nullableString,
  enable_thinking: v.nullish(v.boolean()),
});

/** A validated Responses request: the OpenAI fields typed, every other field kept as sent. */
export type ResponsesRequest = v.InferOutput<typeof ResponsesRequestSchema>;

/** Lifecycle state of a Response (`queued` and `cancelled` belong to background mode, which Ithaca lacks). */
export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

/** State of one output item. */
export type ResponseItemStatus = "in_progress" | "completed" | "incomplete";

/** A text part of an assistant message (`annotations` stay empty: Ithaca adds no citations). */
export interface ResponseOutputText {
  type: "output_text";
  text: string;
  annotations: unknown[];
}

/** The assistant's visible answer (`id` starts with `msg_`). */
export interface ResponseOutputMessage {
  id: string;
  type: "message";
  role: "assistant";
  status: ResponseItemStatus;
  content: ResponseOutputText[];
}

/** The model's thinking (chat's `reasoning_content`) as a summary part (`id` starts with `rs_`). */
export interface ResponseReasoningItem {
  id: string;
  type: "reasoning";
  summary: Array<{ type: "summary_text"; text: string }>;
  status: ResponseItemStatus;
}

/** A tool call for the client to run (`id` starts with `fc_`; `call_id` is the chat tool call id). */
export interface ResponseFunctionToolCall {
  id: string;
  type: "function_call";
  call_id: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
  status: ResponseItemStatus;
}

/** What Ithaca puts in `output`. */
export type ResponseOutputItem = ResponseOutputMessage | ResponseReasoningItem | ResponseFunctionToolCall;

/** Token counts; `input_tokens` includes the cached ones, `output_tokens` the reasoning ones. */
export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** Why a Response failed (`code` is OpenAI's `server_error` or the code of the failure Ithaca saw). */
export interface ResponseError {
  code: string;
  message: string;
}

/**
 * The Response object (`object: "response"`). The request's parameters are echoed as the API does; `store` is
 * always false and `previous_response_id` null (nothing is stored). `output_text` is not on the wire: the SDKs
 * derive it from `output`.
 */
export interface ResponseObject {
  id: string;
  object: "response";
  /** Unix time, seconds. */
  created_at: number;
  status: ResponseStatus;
  error: ResponseError | null;
  incomplete_details: { reason: "max_output_tokens" | "content_filter" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: ResponseOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: null;
  reasoning: { effort: string | null; summary: string | null };
  store: false;
  temperature: number | null;
  text: Record<string, unknown> & { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: "auto" | "disabled";
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

/** Fields every stream event carries: `type` (also the SSE `event:` name) and a `sequence_number` from 0. */
interface EventBase<T extends string> {
  type: T;
  sequence_number: number;
}

/** Where an item-scoped event applies. */
interface ItemRef {
  item_id: string;
  output_index: number;
}

/** The events Ithaca sends on `POST /v1/responses` with `stream: true` (OpenAI "Streaming events"). */
export type ResponseStreamEvent =
  | (EventBase<
      "response.created" | "response.in_progress" | "response.completed" | "response.incomplete" | "response.failed"
    > & { response: ResponseObject })
  | (EventBase<"response.output_item.added" | "response.output_item.done"> & {
      output_index: number;
      item: ResponseOutputItem;
    })
  | (EventBase<"response.content_part.added" | "response.content_part.done"> &
      ItemRef & { content_index: number; part: ResponseOutputText })
  | (EventBase<"response.output_text.delta"> & ItemRef & { content_index: number; delta: string; logprobs: [] })
  | (EventBase<"response.output_text.done"> & ItemRef & { content_index: number; text: string; logprobs: [] })
  | (EventBase<"response.reasoning_summary_part.added" | "response.reasoning_summary_part.done"> &
      ItemRef & { summary_index: number; part: { type: "summary_text"; text: string } })
  | (EventBase<"response.reasoning_summary_text.delta"> & ItemRef & { summary_index: number; delta: string })
  | (EventBase<"response.reasoning_summary_text.done"> & ItemRef & { summary_index: number; text: string })
  | (EventBase<"response.function_call_arguments.delta"> & ItemRef & { delta: string })
  | (EventBase<"response.function_call_arguments.done"> & ItemRef & { arguments: string })
  | (EventBase<"error"> & { code: string | null; message: string; param: string | null });
