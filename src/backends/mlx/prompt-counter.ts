/**
 * Prompt token counts of local models without their weights, off the main thread (DESIGN §1): one token-count Worker
 * (src/engine/token-count-worker.ts), shared by every model and started on the first count, renders and encodes
 * the requests. It keeps the tokenizer and chat template (pure JavaScript: `@huggingface/tokenizers`,
 * `@huggingface/jinja`; no MLX) of the few most recently counted models, re-reads them when their files change and
 * drops them when the model is unloaded; which models it holds is decided here. Rendering and encoding are the engine
 * Worker's own, so a count equals the `usage.prompt_tokens` the same request gets from the engine.
 */
import type { PromptParams } from "../../engine/prompt.ts";
import { engineWorkerUrl, PendingReplies } from "../../engine/client.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import { fileStamp } from "./inventory.ts";
import type { KnownModel } from "./model-view.ts";
import { engineError } from "./render.ts";
import type { FromTokenCounter, ToTokenCounter } from "../../engine/token-count-messages.ts";

/** How many models keep their tokenizer and template (the least recently counted one is dropped first). */
export const PROMPT_CACHE_MODELS = 4;

/** The files a model's tokenizer and chat template are read from. */
const PROMPT_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"];

const shuttingDown = () => new OpenAIError(503, "the local engine is shutting down", { code: "shutting_down" });

/**
 * Counts prompt tokens per model in the token-count Worker, which keeps a small cache of tokenizers and chat
 * templates (by model id, least recently counted dropped first; an entry is re-read when the model's directory or its
 * tokenizer files change). {@link close} ends the Worker.
 */
export class PromptCounter {
  readonly #capacity: number;
  /** Models the Worker holds (or is reading) the tokenizer and template of, least recently counted first. */
  readonly #held = new Set<string>();
  readonly #replies = new PendingReplies<FromTokenCounter>();
  /** Started on the first count; ended by {@link close} or when it fails. */
  #worker: Worker | undefined;
  #closed = false;

  /** @param capacity models whose tokenizer and template are kept (default {@link PROMPT_CACHE_MODELS}) */
  constructor(capacity = PROMPT_CACHE_MODELS) {
    this.#capacity = capacity;
  }

  /**
   * Counts the prompt tokens of a request to `model` in the Worker: its chat template renders the conversation
   * (tools, template options and generation prompt included) and its tokenizer encodes the text, as the engine does.
   * The main thread only checks the model's files for changes (a few `stat`s) and posts the request.
   * @returns the number of prompt tokens
   * @throws OpenAIError 400 `invalid_prompt` with the template's message when the messages cannot be rendered (what
   *   the chat path answers); 500 `model_load_failed` (param `model`) when the tokenizer or template cannot be read;
   *   500 `engine_error` when the Worker fails; 503 `shutting_down` once {@link close} was called.
   */
  async count(model: KnownModel, params: PromptParams): Promise<number> {
    if (this.#closed) throw shuttingDown();
    const stamp = fileStamp(model.path, PROMPT_FILES);
    const worker = this.#start();
    this.#hold(model.id, worker);
    const answer = await this.#replies.ask((id) =>
      worker.postMessage({
        type: "count",
        id,
        model: { id: model.id, path: model.path, stamp },
        params,
      } satisfies ToTokenCounter),
    );
    if (answer.type === "counted") return answer.tokens;
    if (answer.stage === "render") throw engineError(answer);
    this.#held.delete(model.id); // the Worker keeps nothing of a model it could not read
    const message = `loading model '${model.id}' from ${model.path}: ${answer.message}`;
    throw new OpenAIError(500, message, { param: "model", code: "model_load_failed" });
  }

  /** Drops a model's tokenizer and template (the model was unloaded); a later count reads them again. */
  delete(id: string): void {
    if (!this.#held.delete(id)) return;
    this.#worker?.postMessage({ type: "drop", model: id } satisfies ToTokenCounter);
  }

  /** Models whose tokenizer and template the Worker holds now. */
  get size(): number {
    return this.#held.size;
  }

  /** Ends the Worker; counts still waiting fail with 503 `shutting_down`, later ones too. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#stop(shuttingDown());
  }

  /** The Worker, started now if none runs. */
  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(engineWorkerUrl("token-count-worker"));
    worker.onmessage = (event: MessageEvent<FromTokenCounter>) => this.#replies.settle(event.data);
    worker.onerror = (event) =>
      this.#stop(engineError({ message: `the token-count worker failed: ${event.message}`, status: 500 }));
    this.#worker = worker;
    return worker;
  }

  /** Marks `id` most recently counted; tells the Worker to drop the least recently counted models beyond capacity. */
  #hold(id: string, worker: Worker): void {
    this.#held.delete(id);
    this.#held.add(id);
    for (const old of this.#held) {
      if (this.#held.size <= this.#capacity) break;
      this.#held.delete(old);
      worker.postMessage({ type: "drop", model: old } satisfies ToTokenCounter);
    }
  }

  /** Ends the Worker (a later count starts a fresh one, unless closed), failing the counts in flight with `error`. */
  #stop(error: Error): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#held.clear();
    this.#replies.rejectAll(error);
  }
}
