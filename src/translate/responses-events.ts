/**
 * The state of one streamed Response: turns chat-completion deltas into numbered Responses streaming events
 * (OpenAI API reference, "Streaming events"), in the order the API sends them and the `openai` SDK's
 * `ResponseStream` accumulates them.
 *
 * Output items open as their first delta arrives. A text item (reasoning or message) closes when another item
 * begins; function calls stay open until the answer ends, so fragments of parallel calls may interleave. Each
 * item's events: `output_item.added`, its part's `added`, deltas, the text's `done`, the part's `done`,
 * `output_item.done` (function calls: `added`, `function_call_arguments.delta`…, `.done`, `output_item.done`).
 */
import type { OpenAIToolCallDelta } from "../protocol/openai-response.ts";
import type { NamedEvent } from "../protocol/sse.ts";
import type {
  ResponseError,
  ResponseFunctionToolCall,
  ResponseItemStatus,
  ResponseObject,
  ResponseOutputMessage,
  ResponseReasoningItem,
  ResponseStatus,
  ResponseStreamEvent,
  ResponseUsage,
  ResponsesRequest,
} from "../protocol/responses.ts";
import { baseResponse, itemStatus, outputItemId, type ResponseIdentity } from "./responses-object.ts";

/** The kinds of text item: `reasoning` (chat's `reasoning_content`) or `message` (chat's `content`). */
type TextKind = "reasoning" | "message";

type EventType = ResponseStreamEvent["type"];
type LifecycleType =
  | "response.created"
  | "response.in_progress"
  | "response.completed"
  | "response.incomplete"
  | "response.failed";

/** Builds the events of one streamed Response, numbering them from 0. */
export class ResponseEventWriter {
  /** The Response as streamed so far; its `output` holds the live items. */
  readonly response: ResponseObject;
  private sequence = 0;
  /** The text item being written, if any. */
  private text: { kind: TextKind; index: number } | undefined;
  /** Chat tool-call `index` → output index of its `function_call` item. */
  private readonly calls = new Map<number, number>();
  /** Output indexes whose `output_item.done` has not been sent. */
  private readonly unfinished = new Set<number>();

  constructor(request: ResponsesRequest, identity: ResponseIdentity) {
    this.response = baseResponse(request, identity);
  }

  /** A lifecycle event (`response.created`, `response.completed`...) carrying a snapshot of the Response. */
  lifecycle(type: LifecycleType): NamedEvent {
    return this.event(type, { response: structuredClone(this.response) });
  }

  /** A fragment of reasoning or answer text: opens its item when the previous item is of another kind. */
  *textDelta(kind: TextKind, delta: string): Generator<NamedEvent> {
    if (this.text?.kind !== kind) {
      yield* this.closeText("completed");
      yield* this.openText(kind);
    }
    const index = this.text!.index;
    const item = this.response.output[index] as ResponseOutputMessage | ResponseReasoningItem;
    if (item.type === "message") {
      item.content[0]!.text += delta;
      yield this.event("response.output_text.delta", { ...this.ref(index), content_index: 0, delta, logprobs: [] });
    } else {
      item.summary[0]!.text += delta;
      yield this.event("response.reasoning_summary_text.delta", { ...this.ref(index), summary_index: 0, delta });
    }
  }

  /**
   * A tool-call fragment: the first one of a call (a new `index`) closes the text item and opens a
   * `function_call` item (`call_id` = the chat tool call id, or a generated one); its arguments follow as deltas.
   */
  *toolCallDelta(fragment: OpenAIToolCallDelta): Generator<NamedEvent> {
    let index = this.calls.get(fragment.index);
    if (index === undefined) {
      yield* this.closeText("completed");
      index = this.response.output.length;
      const item: ResponseFunctionToolCall = {
        id: outputItemId("fc", this.response.id, index),
        type: "function_call",
        status: "in_progress",
        call_id: fragment.id || outputItemId("call", this.response.id, index),
        name: fragment.function?.name ?? "",
        arguments: "",
      };
      yield* this.addItem(item);
      this.calls.set(fragment.index, index);
    }
    const item = this.response.output[index] as ResponseFunctionToolCall;
    if (!item.name && fragment.function?.name) item.name = fragment.function.name;
    const delta = fragment.function?.arguments;
    if (delta) {
      item.arguments += delta;
      yield this.event("response.function_call_arguments.delta", { ...this.ref(index), delta });
    }
  }

  /**
   * The normal end: closes the open items in output order (the last one `incomplete` when `status` is), then
   * `response.completed` (or `response.incomplete`) with the whole Response and its usage.
   */
  *finish(
    outcome: Pick<ResponseObject, "status" | "incomplete_details">,
    usage: ResponseUsage | null,
  ): Generator<NamedEvent> {
    const count = this.response.output.length;
    for (const index of [...this.unfinished].sort((a, b) => a - b)) {
      const status = itemStatus(outcome.status, index, count);
      if (index === this.text?.index) yield* this.closeText(status);
      else yield* this.closeCall(index, status);
    }
    Object.assign(this.response, outcome, { usage });
    yield this.lifecycle(outcome.status === "incomplete" ? "response.incomplete" : "response.completed");
  }

  /** A failed end: the open items are left `incomplete` (no `done` events), then `response.failed`. */
  *fail(error: ResponseError, usage: ResponseUsage | null): Generator<NamedEvent> {
    for (const index of this.unfinished) this.response.output[index]!.status = "incomplete";
    Object.assign(this.response, { status: "failed" satisfies ResponseStatus, error, usage });
    yield this.lifecycle("response.failed");
  }

  private event(type: EventType, fields: object): NamedEvent {
    return { event: type, data: { type, sequence_number: this.sequence++, ...fields } };
  }

  private ref(index: number): { item_id: string; output_index: number } {
    return { item_id: this.response.output[index]!.id, output_index: index };
  }

  private *addItem(item: ResponseObject["output"][number]): Generator<NamedEvent> {
    const index = this.response.output.length;
    this.response.output.push(item);
    this.unfinished.add(index);
    yield this.event("response.output_item.added", { output_index: index, item: structuredClone(item) });
  }

  private *openText(kind: TextKind): Generator<NamedEvent> {
    const index = this.response.output.length;
    this.text = { kind, index };
    if (kind === "message") {
      const id = outputItemId("msg", this.response.id, index);
      const item: ResponseOutputMessage = {
        id,
        type: "message",
        role: "assistant",
        status: "in_progress",
        content: [],
      };
      yield* this.addItem(item);
      const part = { type: "output_text" as const, text: "", annotations: [] };
      item.content.push(part);
      yield this.event("response.content_part.added", { ...this.ref(index), content_index: 0, part: { ...part } });
    } else {
      const id = outputItemId("rs", this.response.id, index);
      const item: ResponseReasoningItem = { id, type: "reasoning", summary: [], status: "in_progress" };
      yield* this.addItem(item);
      const part = { type: "summary_text" as const, text: "" };
      item.summary.push(part);
      const at = this.ref(index);
      yield this.event("response.reasoning_summary_part.added", { ...at, summary_index: 0, part: { ...part } });
    }
  }

  private *closeText(status: ResponseItemStatus): Generator<NamedEvent> {
    if (!this.text) return;
    const { index } = this.text;
    const item = this.response.output[index] as ResponseOutputMessage | ResponseReasoningItem;
    const at = this.ref(index);
    if (item.type === "message") {
      const part = item.content[0]!;
      yield this.event("response.output_text.done", { ...at, content_index: 0, text: part.text, logprobs: [] });
      yield this.event("response.content_part.done", { ...at, content_index: 0, part: structuredClone(part) });
    } else {
      const part = item.summary[0]!;
      yield this.event("response.reasoning_summary_text.done", { ...at, summary_index: 0, text: part.text });
      yield this.event("response.reasoning_summary_part.done", { ...at, summary_index: 0, part: { ...part } });
    }
    yield* this.doneItem(index, status);
    this.text = undefined;
  }

  private *closeCall(index: number, status: ResponseItemStatus): Generator<NamedEvent> {
    const item = this.response.output[index] as ResponseFunctionToolCall;
    yield this.event("response.function_call_arguments.done", { ...this.ref(index), arguments: item.arguments });
    yield* this.doneItem(index, status);
  }

  private *doneItem(index: number, status: ResponseItemStatus): Generator<NamedEvent> {
    const item = this.response.output[index]!;
    item.status = status;
    this.unfinished.delete(index);
    yield this.event("response.output_item.done", { output_index: index, item: structuredClone(item) });
  }
}
