/**
 * The local backend: models computed in-process through the MLX C API, one engine Worker per model (DESIGN §1, §4).
 * Translates an OpenAI chat-completions request into engine parameters and renders the engine's events as an OpenAI
 * `chat.completion` or a stream of `chat.completion.chunk`s (role chunk, content deltas, finish chunk, usage chunk with
 * `choices: []`, `[DONE]`).
 */
import { randomBytes } from "node:crypto";
import { EngineClient, type GenerationEvent } from "../engine/client.ts";
import type { FinishReason, GenerateParams, Usage } from "../engine/protocol.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { sseResponse } from "../protocol/sse.ts";
import type { Backend, BackendCallContext, BackendModel, CanonicalChatRequest } from "./backend.ts";

/** Completion budget when the request names none (tokens), as OdyssAI-X and mlx-lm's server default. */
export const DEFAULT_MAX_TOKENS = 512;

export interface LocalModelConfig {
  id: string;
  path: string;
  aliases?: string[];
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/**
 * Maps request fields onto engine parameters.
 * @throws OpenAIError 400 naming the field for values the local engine cannot honour (`n` > 1, `logprobs`, a bad range).
 */
export function toGenerateParams(body: CanonicalChatRequest, sessionId: string | undefined): GenerateParams {
  const n = num(body.n);
  if (n !== undefined && n !== 1) throw new OpenAIError(400, "the local engine supports only n = 1", { param: "n" });
  if (body.logprobs === true) throw new OpenAIError(400, "logprobs are not supported by the local engine yet", { param: "logprobs" });
  const maxTokens = num(body.max_completion_tokens) ?? num(body.max_tokens) ?? DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new OpenAIError(400, "max_tokens must be a positive integer", { param: body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens" });
  }
  const temperature = num(body.temperature) ?? 1;
  if (temperature < 0 || temperature > 2) throw new OpenAIError(400, "temperature must be between 0 and 2", { param: "temperature" });
  const topP = num(body.top_p) ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new OpenAIError(400, "top_p must be in (0, 1]", { param: "top_p" });
  const seed = num(body.seed);
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) throw new OpenAIError(400, "seed must be a non-negative integer", { param: "seed" });
  const stop = body.stop == null ? [] : Array.isArray(body.stop) ? (body.stop as string[]) : [body.stop as string];
  return {
    messages: body.messages,
    tools: Array.isArray(body.tools) ? body.tools : undefined,
    enable_thinking: typeof body.enable_thinking === "boolean" ? body.enable_thinking : undefined,
    reasoning_effort: typeof body.reasoning_effort === "string" ? body.reasoning_effort : undefined,
    max_tokens: maxTokens,
    temperature,
    top_p: topP,
    seed,
    stop,
    session_id: sessionId,
  };
}

const completionId = () => `chatcmpl-${randomBytes(12).toString("hex")}`;

function openAIUsage(u: Usage) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens },
  };
}

/** A client-side cancellation is reported as `stop` (the client is gone; nobody reads it). */
const openAIFinish = (r: FinishReason) => (r === "cancelled" ? "stop" : r);

class MlxBackend implements Backend {
  readonly id = "local";
  readonly kind = "mlx" as const;
  readonly #engines: Map<string, { config: LocalModelConfig; engine: EngineClient }>;
  readonly #counters = { requests: 0, errors: 0 };

  constructor(engines: Map<string, { config: LocalModelConfig; engine: EngineClient }>) {
    this.#engines = engines;
  }

  async listModels(): Promise<BackendModel[]> {
    return [...this.#engines.values()].map(({ config, engine }) => ({
      id: config.id,
      upstreamId: config.id,
      aliases: config.aliases,
      contextLength: engine.info.contextLength,
      ready: true,
      capabilities: ["chat", "stream"],
      details: { arch: engine.info.arch, path: engine.info.path, bytes: engine.info.nbytes, quantization: engine.info.quantization ?? null },
    }));
  }

  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<Response> {
    this.#counters.requests++;
    const entry = this.#engines.get(ctx.model.upstreamId);
    if (!entry) throw new OpenAIError(404, `model '${ctx.model.id}' is not loaded`, { param: "model", code: "model_not_found" });
    const params = toGenerateParams(body, ctx.sessionId);
    const events = entry.engine.generate(params, ctx.signal);
    // Wait for the prompt to be accepted, so template / context-length errors become proper HTTP errors.
    const first = await events.next();
    if (first.done || first.value.type === "error") {
      this.#counters.errors++;
      const e = first.done ? { message: "engine ended without an answer", status: 500 } : (first.value as { message: string; status: number });
      throw new OpenAIError(e.status, e.message, { code: e.status === 400 ? "invalid_prompt" : "engine_error" });
    }
    const meta = { id: completionId(), created: Math.floor(Date.now() / 1000), model: ctx.model.id };
    return body.stream === true ? sseResponse(this.#chunks(events, meta, ctx.signal), ctx.signal) : this.#complete(events, meta);
  }

  async #complete(events: AsyncGenerator<GenerationEvent>, meta: { id: string; created: number; model: string }): Promise<Response> {
    let content = "";
    for await (const e of events) {
      if (e.type === "token") content += e.text;
      else if (e.type === "error") {
        this.#counters.errors++;
        throw new OpenAIError(e.status, e.message, { code: "engine_error" });
      } else if (e.type === "done") {
        return Response.json({
          ...meta,
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: openAIFinish(e.finishReason) }],
          usage: openAIUsage(e.usage),
        });
      }
    }
    throw new OpenAIError(500, "engine ended without finishing", { code: "engine_error" });
  }

  async *#chunks(events: AsyncGenerator<GenerationEvent>, meta: { id: string; created: number; model: string }, signal: AbortSignal): AsyncGenerator<object> {
    const chunk = (delta: object, finish: string | null) => ({
      ...meta,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    try {
      yield chunk({ role: "assistant", content: "" }, null);
      for await (const e of events) {
        if (e.type === "token") yield chunk({ content: e.text }, null);
        else if (e.type === "error") {
          this.#counters.errors++;
          throw new OpenAIError(e.status, e.message, { code: "engine_error" });
        } else if (e.type === "done") {
          if (e.finishReason === "cancelled") return;
          yield chunk({}, openAIFinish(e.finishReason));
          yield { ...meta, object: "chat.completion.chunk", choices: [], usage: openAIUsage(e.usage) };
          return;
        }
      }
    } finally {
      // Client gone mid-stream: closing the event iterator sends `cancel` to the Worker.
      if (signal.aborted) await events.return(undefined);
    }
  }

  stats(): Record<string, unknown> {
    const models: Record<string, unknown> = {};
    for (const [id, { engine }] of this.#engines) models[id] = { ...engine.counters };
    return { ...this.#counters, models };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#engines.values()].map(({ engine }) => engine.close()));
  }
}

/**
 * Starts one engine Worker per model and loads it.
 * @throws Error naming the model and directory when a model cannot be loaded; already started Workers are stopped.
 */
export async function createMlxBackend(opts: { models: LocalModelConfig[] }): Promise<Backend> {
  const engines = new Map<string, { config: LocalModelConfig; engine: EngineClient }>();
  try {
    for (const config of opts.models) {
      engines.set(config.id, { config, engine: await EngineClient.start({ id: config.id, path: config.path }) });
    }
  } catch (err) {
    await Promise.all([...engines.values()].map(({ engine }) => engine.close()));
    throw err;
  }
  return new MlxBackend(engines);
}
