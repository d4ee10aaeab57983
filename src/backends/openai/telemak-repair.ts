/**
 * Telemak's answers made right on the way (telemak-companion-wire §9; DESIGN §7 "Telemak-aware proxying"):
 *
 * - #15: `model` carries the id the client asked for (the catalog alias), not the upstream's Hugging Face id;
 * - #22: `usage.prompt_tokens` counts the cached tokens too (Telemak reports only the new ones, so a client showed
 *   "Cached 165%" and Anthropic's `input_tokens` went negative); `total_tokens` follows;
 * - #24: streamed tool-call fragments get their `index` (Telemak omits it, and two parallel calls merged into one
 *   corrupt call): a fragment with a new `id` opens the next call, one without continues the last.
 *
 * A Telemak's answer is therefore read into canonical values (../openai/read-answer.ts) and repaired chunk by chunk,
 * in one pass, instead of passing its bytes through.
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  OpenAIStreamItem,
  OpenAIUsage,
} from "../../protocol/openai-response.ts";
import type { ChunksAnswer, CompletionAnswer } from "../backend.ts";

/** `usage` with the cached tokens counted in `prompt_tokens` (OpenAI's meaning). */
function withCachedCounted(usage: OpenAIUsage | null | undefined): OpenAIUsage | null | undefined {
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  if (!usage || typeof cached !== "number" || cached <= 0) return usage;
  const prompt = usage.prompt_tokens + cached;
  return { ...usage, prompt_tokens: prompt, total_tokens: prompt + usage.completion_tokens };
}

/** A Telemak's non-stream answer, repaired (see the module comment). */
export function repairCompletion(answer: CompletionAnswer, model: string): CompletionAnswer {
  const completion: ChatCompletion = { ...answer.completion, model, usage: withCachedCounted(answer.completion.usage) };
  return { kind: "completion", completion };
}

/** A Telemak's stream, repaired chunk by chunk (see the module comment). */
export function repairChunks(answer: ChunksAnswer, model: string): ChunksAnswer {
  return { kind: "chunks", chunks: repaired(answer.chunks, model) };
}

async function* repaired(items: AsyncIterable<OpenAIStreamItem>, model: string): AsyncGenerator<OpenAIStreamItem> {
  /** Per choice: the index of the last tool call opened, and how many were opened. */
  const calls = new Map<number, { last: number; count: number }>();
  for await (const item of items) {
    if ("error" in item) {
      yield item;
      continue;
    }
    const chunk: ChatCompletionChunk = { ...item, model, usage: withCachedCounted(item.usage) };
    chunk.choices = item.choices.map((choice) => {
      const fragments = choice.delta.tool_calls;
      if (!fragments?.length) return choice;
      const seen = calls.get(choice.index) ?? { last: -1, count: 0 };
      calls.set(choice.index, seen);
      const tool_calls = fragments.map((fragment) => {
        if (typeof fragment.index === "number") {
          seen.last = fragment.index;
          seen.count = Math.max(seen.count, fragment.index + 1);
          return fragment;
        }
        if (fragment.id !== undefined || seen.last === -1) seen.last = seen.count++;
        return { ...fragment, index: seen.last };
      });
      return { ...choice, delta: { ...choice.delta, tool_calls } };
    });
    yield chunk;
  }
}
