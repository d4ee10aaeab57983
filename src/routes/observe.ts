/**
 * What a route tells its run about a backend's answer before rendering it (./runs.ts): the usage of a finished
 * answer (and its end); for a stream of canonical chunks, the first chunk carrying a generated token, the usage chunk,
 * an in-band error and the end, read from the objects as they pass (nothing is serialized or parsed for it). A
 * relayed byte stream is reported by its backend (`metered`); one that is not is watched for its end only.
 *
 * A run the operator cancelled ends its answer with the cancellation: thrown before the answer is rendered (the
 * dialect's error response), thrown by the chunk iterator after (the dialect's in-band error). A local generation cut
 * short by the cancel would otherwise look like a short answer.
 */
import type { BytesAnswer, ChunksAnswer, CompletionAnswer } from "../backends/backend.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { onBodyEnd } from "../protocol/response-end.ts";
import type { ChatCompletionChunk, OpenAIStreamItem, OpenAIUsage } from "../protocol/openai-response.ts";
import type { Run } from "./runs.ts";

/** The answers a route observes. */
type Answer = CompletionAnswer | ChunksAnswer | BytesAnswer;

/** The code a failure is recorded with: its `code`, else its `type`, else `internal_error`. */
export function errorCode(error: unknown): string {
  if (error instanceof OpenAIError) return error.code ?? error.type;
  const inBand = (error as { error?: { code?: unknown; type?: unknown } } | null)?.error;
  if (inBand && typeof inBand === "object") {
    const code = inBand.code ?? inBand.type;
    if (typeof code === "string" || typeof code === "number") return String(code);
  }
  return "internal_error";
}

/** Reports an OpenAI `usage` object to `run`. */
function reportUsage(run: Run, usage: OpenAIUsage): void {
  run.usage(usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details?.cached_tokens ?? undefined);
}

/** Whether a chunk carries a generated token: content, reasoning or a tool call. */
function carriesToken(chunk: ChatCompletionChunk): boolean {
  const delta = chunk.choices?.[0]?.delta;
  return Boolean(delta && (delta.content || delta.reasoning_content || delta.reasoning || delta.tool_calls?.length));
}

/**
 * `answer`, observed for `run` (see the module comment): a finished answer ends the run here; a stream ends it when
 * it ends.
 * @throws the run's cancellation when the operator cancelled it before its answer came back (a stream's work is
 *   cancelled with it).
 */
export function observeAnswer<A extends Answer>(answer: A, run: Run | undefined): A {
  if (run === undefined) return answer;
  const cancelled = run.cancellation;
  if (cancelled) {
    discard(answer);
    throw cancelled;
  }
  switch (answer.kind) {
    case "completion":
      if (answer.completion.usage) reportUsage(run, answer.completion.usage);
      run.end(200);
      return answer;
    case "chunks":
      run.streaming();
      return { ...answer, chunks: new MeteredChunks(answer.chunks, run) };
    case "bytes":
      if (!answer.stream) {
        run.end(answer.status);
        return answer;
      }
      run.streaming();
      if (answer.metered) return answer;
      return { ...answer, body: endAware(answer.body as ReadableStream<Uint8Array>, run) };
  }
  return answer;
}

/** Stops an answer nobody will read. */
function discard(answer: Answer): void {
  if (answer.kind === "chunks")
    void answer.chunks[Symbol.asyncIterator]()
      .return?.()
      ?.catch(() => {});
  else if (answer.kind === "bytes" && answer.stream) {
    void (answer.body as ReadableStream<Uint8Array>).cancel().catch(() => {});
  }
}

/**
 * The chunks of a stream, reported to the run as they pass; the run ends when the stream does — at its end, at an
 * error (thrown or in-band), or when the reader stops early (`return()`, the client gone).
 */
class MeteredChunks implements AsyncIterable<OpenAIStreamItem>, AsyncIterator<OpenAIStreamItem> {
  private readonly inner: AsyncIterator<OpenAIStreamItem>;
  /** The code of an in-band error item seen. */
  private error: string | undefined;

  constructor(
    chunks: AsyncIterable<OpenAIStreamItem>,
    private readonly run: Run,
  ) {
    this.inner = chunks[Symbol.asyncIterator]();
    run.meterChunks();
  }

  [Symbol.asyncIterator](): AsyncIterator<OpenAIStreamItem> {
    return this;
  }

  async next(): Promise<IteratorResult<OpenAIStreamItem>> {
    const run = this.run;
    let result: IteratorResult<OpenAIStreamItem>;
    try {
      result = await this.inner.next();
    } catch (error) {
      const failure = run.cancellation ?? error;
      run.end(200, errorCode(failure));
      throw failure;
    }
    const cancelled = run.cancellation;
    if (cancelled) {
      run.end(200, errorCode(cancelled));
      void this.inner.return?.()?.catch(() => {});
      throw cancelled;
    }
    if (result.done) {
      run.end(200, this.error);
      return result;
    }
    const item = result.value;
    if ("error" in item) this.error = errorCode(item);
    else {
      if (!run.hasFirstToken && carriesToken(item)) run.firstToken();
      if (item.usage) reportUsage(run, item.usage);
    }
    return result;
  }

  async return(value?: unknown): Promise<IteratorResult<OpenAIStreamItem>> {
    this.run.end(200, this.error ?? "client_closed");
    const done = await this.inner.return?.(value);
    return done ?? { done: true, value: undefined };
  }
}

/** A byte stream passed on unchanged that ends the run when it ends, fails or is cancelled. */
function endAware(body: ReadableStream<Uint8Array>, run: Run): ReadableStream<Uint8Array> {
  return onBodyEnd(body, (end) => {
    if (end.kind === "done") run.end(200);
    else run.end(200, end.kind === "error" ? errorCode(end.error) : "client_closed");
  });
}
