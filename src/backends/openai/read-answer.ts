/**
 * An OpenAI-dialect upstream's bytes read into canonical values, for a caller of another dialect (`/v1/messages`,
 * `/v1/responses` in front of an OpenAI-dialect upstream). This is the one place upstream OpenAI bytes are parsed;
 * the same-dialect path never comes here. What cannot be read as the dialect says is a 502 naming the upstream:
 * a body that is not a `chat.completion`, a stream event that is neither a chunk nor an in-band error.
 */
import { upstreamInvalid } from "../../protocol/errors.ts";
import type { ChatCompletion, ChatCompletionChunk, OpenAIStreamItem } from "../../protocol/openai-response.ts";
import { sseJsonPayloads } from "../../protocol/sse.ts";
import type { BytesAnswer, ChatAnswer, ChunksAnswer, CompletionAnswer } from "../backend.ts";

/** UTF-8 decoding of whole byte arrays (stateless between calls, so shared). */
const UTF8 = new TextDecoder();

/**
 * `answer` as canonical values: itself when it already is, else its bytes parsed.
 * @throws OpenAIError 502 `upstream_invalid_response` when a non-stream body is not a chat completion (a stream's
 *   bad event arrives as an in-band error item instead).
 */
export function canonicalAnswer(answer: ChatAnswer): CompletionAnswer | ChunksAnswer {
  if (answer.kind !== "bytes") return answer;
  if (answer.stream) return { kind: "chunks", chunks: streamItems(answer) };
  let completion: unknown;
  try {
    completion = JSON.parse(UTF8.decode(answer.body as Uint8Array));
  } catch {
    throw upstreamInvalid(answer.upstream, "its answer is not JSON");
  }
  if (!hasChoices(completion)) throw upstreamInvalid(answer.upstream, "its answer is not a chat completion");
  return { kind: "completion", completion: completion as unknown as ChatCompletion };
}

/** The chunks and in-band errors of an OpenAI SSE body; a bad event ends it with an in-band 502. */
async function* streamItems(answer: BytesAnswer<"openai">): AsyncGenerator<OpenAIStreamItem> {
  const created = Math.floor(Date.now() / 1000);
  for await (const payload of sseJsonPayloads(answer.body as ReadableStream<Uint8Array>)) {
    if ("error" in payload) {
      yield payload as unknown as OpenAIStreamItem;
      return;
    }
    if (!hasChoices(payload)) {
      yield upstreamInvalid(answer.upstream, "a stream event is not a chat completion chunk").toBody();
      return;
    }
    // Engines differ on the chunk's envelope; translation needs only `choices` and `usage`.
    yield {
      ...payload,
      id: typeof payload.id === "string" ? payload.id : "chatcmpl-upstream",
      created: typeof payload.created === "number" ? payload.created : created,
      model: typeof payload.model === "string" ? payload.model : "",
    } as ChatCompletionChunk;
  }
}

function hasChoices(value: unknown): value is Record<string, unknown> & { choices: unknown[] } {
  return value !== null && typeof value === "object" && Array.isArray((value as { choices?: unknown }).choices);
}
