/**
 * Telemak's answers made right on the way (telemak-companion-wire §9; DESIGN §7 "Telemak-aware proxying"):
 *
 * - #15: `model` carries the id the client asked for (the catalog alias), not the upstream's Hugging Face id;
 * - #22: `usage.prompt_tokens` counts the cached tokens too (Telemak reports only the new ones, so a client showed
 *   "Cached 165%" and Anthropic's `input_tokens` went negative); `total_tokens` follows;
 * - #23: inline `<think>…</think>` is split into `reasoning_content` (./telemak-thinking.ts), streaming-safe, the
 *   text held back at a chunk's end flushed before the finish chunk (or the stream's end);
 * - #24: streamed tool-call fragments get their `index` (Telemak omits it, and two parallel calls merged into one
 *   corrupt call): a fragment with a new `id` opens the next call, one without continues the last;
 * - #27: an in-band error item is passed on as the last item (the route frames it so every client surfaces it);
 * - #29: the answer, once finished, is handed to `onFinished` (./telemak-sessions.ts records what Telemak cached).
 *
 * A Telemak's answer is therefore read into canonical values (./read-answer.ts) and repaired chunk by chunk, in one
 * pass, instead of passing its bytes through. An answer that already carries `reasoning_content` is not split.
 */
import { ReasoningParser } from "../../engine/output/reasoning.ts";
import type { OutputDelta } from "../../engine/worker-messages.ts";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  OpenAIDelta,
  OpenAIStreamItem,
  OpenAIUsage,
} from "../../protocol/openai-response.ts";
import type { ChunksAnswer, CompletionAnswer } from "../backend.ts";
import type { ThinkSplit } from "./telemak-thinking.ts";
import type { TelemakReply } from "./telemak-sessions.ts";

/** What repairing one answer needs. */
export interface RepairContext {
  /** The id the client asked for, written back as `model`. */
  alias: string;
  /** How the model's reasoning is split. */
  think: ThinkSplit;
  /** Called with the first choice's reply once the answer finished (a `finish_reason` came); never for a failed one. */
  onFinished?(reply: TelemakReply): void;
}

/** `usage` with the cached tokens counted in `prompt_tokens` (OpenAI's meaning). */
function withCachedCounted(usage: OpenAIUsage | null | undefined): OpenAIUsage | null | undefined {
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  if (!usage || typeof cached !== "number" || cached <= 0) return usage;
  const prompt = usage.prompt_tokens + cached;
  return { ...usage, prompt_tokens: prompt, total_tokens: prompt + usage.completion_tokens };
}

/** `{reasoning_content?, content?}` of split text (absent when empty). */
function textFields(deltas: OutputDelta[]): { reasoning_content?: string; content?: string } {
  const reasoning = deltas.map((d) => d.reasoning_content ?? "").join("");
  const content = deltas.map((d) => d.content ?? "").join("");
  return { ...(reasoning && { reasoning_content: reasoning }), ...(content && { content }) };
}

/** A Telemak's non-stream answer, repaired (see the module comment). */
export function repairCompletion(answer: CompletionAnswer, context: RepairContext): CompletionAnswer {
  const completion: ChatCompletion = {
    ...answer.completion,
    model: context.alias,
    usage: withCachedCounted(answer.completion.usage),
  };
  completion.choices = answer.completion.choices.map((choice) => {
    const message = choice.message;
    if (typeof message.content !== "string" || message.reasoning_content !== undefined) return choice;
    const parser = new ReasoningParser(context.think.markers, context.think.options);
    const split = textFields([...parser.push(message.content), ...parser.flush()]);
    return { ...choice, message: { ...message, content: split.content ?? "", ...split } };
  });
  const first = completion.choices[0];
  if (first?.finish_reason) {
    context.onFinished?.({
      content: typeof first.message.content === "string" ? first.message.content : "",
      toolCalls: (first.message.tool_calls ?? []).map((call) => ({
        name: call.function.name,
        arguments: call.function.arguments,
      })),
    });
  }
  return { kind: "completion", completion };
}

/** A Telemak's stream, repaired chunk by chunk (see the module comment). */
export function repairChunks(answer: ChunksAnswer, context: RepairContext): ChunksAnswer {
  return { kind: "chunks", chunks: repaired(answer.chunks, context) };
}

/** One choice's state across the stream. */
interface ChoiceState {
  /** Splits the content; undefined once the upstream showed it splits reasoning itself. */
  parser: ReasoningParser | undefined;
  finished: boolean;
  /** Index of the last tool call opened, and how many were opened. */
  lastCall: number;
  callCount: number;
  /** The reply so far (content after splitting; tool calls by index). */
  content: string;
  calls: Array<{ name: string; arguments: string }>;
}

async function* repaired(
  items: AsyncIterable<OpenAIStreamItem>,
  context: RepairContext,
): AsyncGenerator<OpenAIStreamItem> {
  const choices = new Map<number, ChoiceState>();
  const stateOf = (index: number): ChoiceState => {
    let state = choices.get(index);
    if (!state) {
      state = {
        parser: new ReasoningParser(context.think.markers, context.think.options),
        finished: false,
        lastCall: -1,
        callCount: 0,
        content: "",
        calls: [],
      };
      choices.set(index, state);
    }
    return state;
  };
  let template: ChatCompletionChunk | undefined;
  for await (const item of items) {
    if ("error" in item) {
      yield item;
      return;
    }
    template ??= item;
    const chunk: ChatCompletionChunk = { ...item, model: context.alias, usage: withCachedCounted(item.usage) };
    chunk.choices = item.choices.map((choice) => {
      const state = stateOf(choice.index);
      const delta = repairDelta(choice.delta, state);
      if (choice.finish_reason) {
        state.finished = true;
        appendFlushed(delta, state);
      }
      return { ...choice, delta };
    });
    yield chunk;
  }
  // The stream ended: text still held back is sent (a stream cut short keeps what it had).
  const rest = [...choices].flatMap(([index, state]) => {
    if (state.finished || !state.parser) return [];
    const delta: OpenAIDelta = {};
    appendFlushed(delta, state);
    return Object.keys(delta).length ? [{ index, delta, finish_reason: null }] : [];
  });
  if (rest.length && template) yield { ...template, model: context.alias, usage: undefined, choices: rest };
  const first = choices.get(0);
  if (first?.finished) context.onFinished?.({ content: first.content, toolCalls: first.calls });
}

/** One choice's delta repaired: tool-call indexes restored, content split; the reply accumulated. */
function repairDelta(incoming: OpenAIDelta, state: ChoiceState): OpenAIDelta {
  const delta: OpenAIDelta = { ...incoming };
  if (delta.reasoning_content !== undefined || delta.reasoning !== undefined) state.parser = undefined;
  if (state.parser && typeof delta.content === "string" && delta.content !== "") {
    const split = textFields(state.parser.push(delta.content));
    delete delta.content;
    Object.assign(delta, split);
  }
  if (typeof delta.content === "string") state.content += delta.content;
  if (delta.tool_calls?.length) {
    delta.tool_calls = delta.tool_calls.map((fragment) => {
      let index = fragment.index;
      if (typeof index === "number") {
        state.lastCall = index;
        state.callCount = Math.max(state.callCount, index + 1);
      } else {
        if (fragment.id !== undefined || state.lastCall === -1) state.lastCall = state.callCount++;
        index = state.lastCall;
      }
      const call = state.calls[index] ?? { name: "", arguments: "" };
      state.calls[index] = call;
      call.name += fragment.function?.name ?? "";
      call.arguments += fragment.function?.arguments ?? "";
      return { ...fragment, index };
    });
  }
  return delta;
}

/** Adds what the choice's parser still holds to `delta` (the end of its answer). */
function appendFlushed(delta: OpenAIDelta, state: ChoiceState): void {
  if (!state.parser) return;
  const split = textFields(state.parser.flush());
  if (split.reasoning_content) delta.reasoning_content = (delta.reasoning_content ?? "") + split.reasoning_content;
  if (split.content) {
    delta.content = (delta.content ?? "") + split.content;
    state.content += split.content;
  }
}
