/**
 * The local backend: models computed in-process through the MLX C API, one engine Worker per model (DESIGN §1, §4).
 * Translates an OpenAI chat-completions request into engine parameters and renders the engine's events as an OpenAI
 * `chat.completion` or a stream of `chat.completion.chunk`s (role chunk, content deltas, finish chunk, usage chunk with
 * `choices: []`, `[DONE]`).
 */
import { randomBytes } from "node:crypto";
import type { EngineConfig } from "../../config/schema.ts";
import { EngineBusyError, type GenerationEvent } from "../../engine/client.ts";
import type { GenerateParams } from "../../engine/worker-messages.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { ChatCompletionChunk } from "../../protocol/openai-response.ts";
import type { Backend, BackendCallContext, BackendModel, ChunksAnswer, CompletionAnswer } from "../backend.ts";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";
import { DEFAULT_ENGINE, type LimitOverrides, withLimits } from "./engine-settings.ts";
import type { ModelLease } from "./leases.ts";
import type { LocalModelConfig } from "./listing.ts";
import type { KnownModel } from "./model-view.ts";
import { describeLibrary, type LibraryProbe, probeMlxLibrary } from "./library-probe.ts";
import { LocalModels } from "./registry.ts";
import { toGenerateParams, toPromptParams } from "./params.ts";
import { engineError, renderChunks, renderCompletion } from "./render.ts";

export type { LocalModelConfig } from "./listing.ts";

const completionId = () => `chatcmpl-${randomBytes(12).toString("hex")}`;

/** The 503 a request gets when its model is unloaded under it. */
const unloadedError = (id: string) =>
  new OpenAIError(503, `model '${id}' was unloaded while this request was running`, {
    param: "model",
    code: "model_unloaded",
    headers: { "retry-after": "1" },
  });

/** The local backend over a {@link LocalModels} registry; `models` is shared with the admin API. */
export class MlxBackend implements Backend {
  readonly id = "local";
  readonly kind = "mlx" as const;
  /** The model registry (shared with the admin API). */
  readonly models: LocalModels;
  readonly #counters = { requests: 0, errors: 0 };
  /** The MLX C library in use, once the probe answered (`/health`). */
  #library: LibraryProbe | undefined;

  /**
   * @param models the model registry
   * @param library the MLX library probe's answer, shown in `stats()` once settled (see {@link probeMlxLibrary})
   */
  constructor(models: LocalModels, library?: Promise<LibraryProbe>) {
    this.models = models;
    void library?.then((probe) => {
      this.#library = probe;
    });
  }

  /**
   * Every known model that can be served: loaded ones `ready: true`, the others (inventory, unloaded) `ready: false`.
   * Directories that cannot be loaded (unsupported or unreadable `config.json`) are left out; `/admin/models` shows
   * them with their error.
   */
  async listModels(): Promise<BackendModel[]> {
    const known = await this.models.known();
    return known
      .filter((model) => !("error" in model.facts) || model.source === "config")
      .map((model) => this.#toBackendModel(model));
  }

  #toBackendModel(model: KnownModel): BackendModel {
    const view = this.models.view(model);
    const q = view.quantization;
    return {
      id: model.id,
      upstreamId: model.id,
      aliases: model.aliases,
      contextLength: view.context_length ?? undefined,
      ready: view.ready,
      capabilities: view.capabilities,
      details: {
        arch: view.arch,
        path: model.path,
        bytes: view.weight_bytes,
        size_bytes: view.weight_bytes,
        ...(q ? { quantization: `${q.bits}bit`, bits: q.bits, group_size: q.group_size } : {}),
        dtype: view.dtype,
        state: view.state,
        loading: view.state === "loading",
        admin_loadable: view.error === null,
        source: model.source,
      },
    };
  }

  /**
   * Answers a chat request with the local model `ctx.model` names, loading it first when `engine.load_on_demand`
   * allows; the model is held until the answer (or the stream) ends.
   * @returns a `chat.completion`, or the chunks of a stream (`body.stream: true`)
   * @throws OpenAIError 400 naming a field the local engine cannot honour or a value out of range, what
   *   {@link LocalModels.acquire} throws (404 `model_not_found` / `model_not_loaded`, 400 `model_too_large` /
   *   `model_unloadable`, 500 `model_load_failed`, 503 `model_unloaded` / `shutting_down`), 503 `engine_overloaded`
   *   (with `Retry-After`) when the model's queue is full, 400 `invalid_prompt` when the prompt is refused, 400
   *   `unsupported_schema` naming `response_format` / `tools` / `tool_choice` when the structured output cannot be
   *   enforced (llguidance's message names the construct), 503 `model_unloaded` when the model is unloaded before the
   *   answer starts.
   */
  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<CompletionAnswer | ChunksAnswer> {
    this.#counters.requests++;
    const model = await this.models.resolve(ctx.model.upstreamId);
    // Validate before a model is loaded on demand for nothing (the vocabulary size comes from config.json).
    const vocabSize = "error" in model.facts ? undefined : model.facts.vocabSize;
    const early = vocabSize === undefined ? undefined : toGenerateParams(body, ctx, vocabSize);
    const lease = await this.models.acquire(model);
    let handedOff = false;
    try {
      const params = early ?? toGenerateParams(body, ctx, lease.engine.info.vocabSize);
      const answer = await this.#answer(body, params, ctx, lease);
      handedOff = answer.kind === "chunks";
      // A stream cancelled before its first read never runs #closing's finally: release on abort too (idempotent).
      if (handedOff) ctx.signal.addEventListener("abort", () => lease.release(), { once: true });
      return answer;
    } finally {
      if (!handedOff) lease.release();
    }
  }

  /**
   * Exact prompt size of a request in tokens, without loading the model: the model's chat template and tokenizer,
   * read in the token-count Worker, render and encode the request as the engine does (`messages`, `tools` unless
   * `tool_choice` is `none`, `enable_thinking`, `reasoning_effort`, generation prompt, BOS as the template writes
   * it), so the count equals the `usage.prompt_tokens` of the same request to {@link chatCompletions}.
   * @returns the number of prompt tokens
   * @throws OpenAIError what the chat path answers for the same request: 404 `model_not_found`, 404
   *   `model_not_loaded` (not loaded and `engine.load_on_demand` off), 400 `model_unloadable`, 400 `invalid_prompt`
   *   when the template rejects the messages, 503
   *   `shutting_down`; 500 `model_load_failed` when the tokenizer files cannot be read.
   */
  async countTokens(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<number> {
    const model = await this.models.resolve(ctx.model.upstreamId);
    const params = toPromptParams(body);
    this.models.checkServable(model);
    return this.models.prompts.count(model, params);
  }

  async #answer(
    body: CanonicalChatRequest,
    params: GenerateParams,
    ctx: BackendCallContext,
    lease: ModelLease,
  ): Promise<CompletionAnswer | ChunksAnswer> {
    const { engine } = lease;
    let raw;
    try {
      raw = engine.generate(params, AbortSignal.any([ctx.signal, lease.signal]));
    } catch (err) {
      this.#counters.errors++;
      if (lease.signal.aborted) throw unloadedError(ctx.model.id);
      if (!(err instanceof EngineBusyError)) throw err;
      throw new OpenAIError(503, err.message, {
        code: "engine_overloaded",
        headers: { "retry-after": String(err.retryAfterS) },
      });
    }
    const events = this.#unloadAware(raw, lease.signal, ctx.model.id);
    // Wait for the prompt to be accepted, so template / context-length errors become proper HTTP errors.
    let first;
    try {
      first = await events.next();
    } catch (err) {
      this.#counters.errors++;
      throw err;
    }
    if (first.done || first.value.type === "error") {
      this.#counters.errors++;
      throw engineError(
        first.done
          ? { message: "engine ended without an answer", status: 500 }
          : (first.value as { message: string; status: number }),
      );
    }
    const meta = { id: completionId(), created: Math.floor(Date.now() / 1000), model: ctx.model.id };
    if (body.stream !== true) {
      return { kind: "completion", completion: await renderCompletion(events, meta, params.logprobs) };
    }
    const chunks = renderChunks(events, meta, params.logprobs);
    return { kind: "chunks", chunks: this.#closing(chunks, events, ctx.signal, lease) };
  }

  /** Passes events on; a generation cancelled because its model is being unloaded ends in a 503 `model_unloaded`. */
  async *#unloadAware(
    events: AsyncGenerator<GenerationEvent>,
    unloading: AbortSignal,
    model: string,
  ): AsyncGenerator<GenerationEvent> {
    for await (const e of events) {
      if (e.type === "done" && e.finishReason === "cancelled" && unloading.aborted) throw unloadedError(model);
      yield e;
    }
  }

  /**
   * Passes chunks on; when the client went away mid-stream, closes the event iterator so the Worker cancels. Releases
   * the model when the stream ends, however it ends.
   */
  async *#closing(
    chunks: AsyncGenerator<ChatCompletionChunk>,
    events: AsyncGenerator<unknown>,
    signal: AbortSignal,
    lease: ModelLease,
  ): AsyncGenerator<ChatCompletionChunk> {
    try {
      yield* chunks;
    } finally {
      lease.release();
      if (signal.aborted) await events.return(undefined);
    }
  }

  /**
   * Calls `listener` at every load, unload and inventory rescan ({@link LocalModels.onChange}).
   * @returns a function that stops the calls
   */
  onModelsChanged(listener: () => void): () => void {
    return this.models.onChange(listener);
  }

  /**
   * Counters for `/health`: `requests`, `errors`, `workers` (engine Workers running), `tokenizers` (models whose
   * tokenizer and template the token-count Worker holds), each loaded model's Worker counters, and `mlx`: the MLX C
   * library loaded (path, source, MLX version against the pinned one) once the probe answered.
   */
  stats(): Record<string, unknown> {
    const { workers, prompts } = this.models;
    const mlx = this.#library ? describeLibrary(this.#library) : undefined;
    return { ...this.#counters, workers, tokenizers: prompts.size, models: this.models.counters(), mlx };
  }

  /** Unloads every model (cancelling what still runs) and ends the Workers. */
  async close(): Promise<void> {
    await this.models.close();
  }
}

/**
 * Creates the local backend and loads the configured models, one engine Worker each; the inventory under
 * `engine.models_dir` is listed but loaded only on request.
 * @param opts.models the `models:` entries, loaded now
 * @param opts.engine the `engine:` section (default {@link DEFAULT_ENGINE}: the config schema's defaults, no memory
 *   budget)
 * @param opts.limits overrides `max_active`, `max_queue` and the MLX memory limits of `opts.engine` (see
 *   {@link withLimits})
 * @throws Error naming the model and directory when a configured model cannot be loaded; already started Workers are
 *   stopped.
 */
export async function createMlxBackend(opts: {
  models: LocalModelConfig[];
  engine?: EngineConfig;
  limits?: LimitOverrides;
}): Promise<MlxBackend> {
  const models = new LocalModels(opts.models, withLimits(opts.engine ?? DEFAULT_ENGINE, opts.limits));
  const library = probeMlxLibrary();
  await models.loadConfigured();
  return new MlxBackend(models, library);
}
