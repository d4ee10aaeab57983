/**
 * The local backend: models computed in-process through the MLX C API, one engine Worker per model (DESIGN §1, §4).
 * Translates an OpenAI chat-completions request into engine parameters and renders the engine's events as an OpenAI
 * `chat.completion` or a stream of `chat.completion.chunk`s (role chunk, content deltas, finish chunk, usage chunk with
 * `choices: []`, `[DONE]`).
 */
import { randomBytes } from "node:crypto";
import { EngineBusyError, EngineClient, type EngineLimits } from "../engine/client.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { sseResponse } from "../protocol/sse.ts";
import type { Backend, BackendCallContext, BackendModel, CanonicalChatRequest } from "./backend.ts";
import { toGenerateParams } from "./mlx-params.ts";
import { renderChunks, renderCompletion } from "./mlx-render.ts";

export interface LocalModelConfig {
  id: string;
  path: string;
  aliases?: string[];
}

const completionId = () => `chatcmpl-${randomBytes(12).toString("hex")}`;

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
    const params = toGenerateParams(body, ctx.sessionId, entry.engine.info.vocabSize);
    let events;
    try {
      events = entry.engine.generate(params, ctx.signal);
    } catch (err) {
      if (!(err instanceof EngineBusyError)) throw err;
      this.#counters.errors++;
      throw new OpenAIError(503, err.message, { code: "engine_overloaded", headers: { "retry-after": String(err.retryAfterS) } });
    }
    // Wait for the prompt to be accepted, so template / context-length errors become proper HTTP errors.
    const first = await events.next();
    if (first.done || first.value.type === "error") {
      this.#counters.errors++;
      const e = first.done ? { message: "engine ended without an answer", status: 500 } : (first.value as { message: string; status: number });
      throw new OpenAIError(e.status, e.message, { code: e.status === 400 ? "invalid_prompt" : "engine_error" });
    }
    const meta = { id: completionId(), created: Math.floor(Date.now() / 1000), model: ctx.model.id };
    if (body.stream !== true) return renderCompletion(events, meta, params.logprobs);
    const chunks = renderChunks(events, meta, params.logprobs);
    return sseResponse(this.#closing(chunks, events, ctx.signal), ctx.signal);
  }

  /** Passes chunks on; when the client went away mid-stream, closes the event iterator so the Worker cancels. */
  async *#closing(chunks: AsyncGenerator<object>, events: AsyncGenerator<unknown>, signal: AbortSignal): AsyncGenerator<object> {
    try {
      yield* chunks;
    } finally {
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
export async function createMlxBackend(opts: { models: LocalModelConfig[]; limits?: EngineLimits }): Promise<Backend> {
  const engines = new Map<string, { config: LocalModelConfig; engine: EngineClient }>();
  try {
    for (const config of opts.models) {
      engines.set(config.id, { config, engine: await EngineClient.start({ id: config.id, path: config.path }, opts.limits) });
    }
  } catch (err) {
    await Promise.all([...engines.values()].map(({ engine }) => engine.close()));
    throw err;
  }
  return new MlxBackend(engines);
}
