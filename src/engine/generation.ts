/**
 * One request inside the engine Worker: renders and tokenizes the prompt, owns its KV cache, sampler and logits
 * processors, and turns each scheduling step of {@link generateSteps} into `delta` / `done` / `error` messages
 * (EOS and `max_tokens`, stop strings held back across tokens, cancellation).
 *
 * The scheduler calls {@link Generation.advance} once per turn; every array the request owns is freed when it ends,
 * however it ends.
 */
import { ChatTemplateError } from "./chat-template.ts";
import { generateSteps, type GenerationStep } from "./generate-step.ts";
import { freeCaches, type KVCache } from "./kv-cache.ts";
import { LogitsProcessors } from "./logits-processors.ts";
import type { DecoderModel } from "./model/decoder.ts";
import { type OutputFormat, OutputParser, promptOpensReasoning } from "./output/parser.ts";
import { type CacheOwner, OPEN_CACHE_SCOPE, type PrefixCache, scopeOf } from "./prefix-cache.ts";
import { type PromptModel, renderPrompt } from "./prompt.ts";
import type {
  FinishReason,
  FromEngine,
  GenerateParams,
  ModelInfo,
  OutputDelta,
  TokenLogprob,
} from "./worker-messages.ts";
import { Sampler } from "./sampler.ts";
import { StopMatcher } from "./stop-strings.ts";
import { StreamingDetokenizer } from "./tokenizer.ts";

/** What a request needs from the loaded model: its weights, tokenizer and chat template. */
export interface LoadedModel extends PromptModel {
  model: DecoderModel;
  info: ModelInfo;
  /** Reasoning markers and tool-call syntax of the model's chat template. */
  outputFormat: OutputFormat;
  /** Kept KV caches of earlier requests (cleared when the model unloads). */
  prefixCache: PrefixCache;
}

/** Token counts a finished request adds to the Worker's totals. */
export interface GenerationOutcome {
  finishReason: FinishReason | "failed";
  promptTokens: number;
  completionTokens: number;
}

type Send = (m: FromEngine) => void;

export class Generation {
  readonly id: number;
  readonly #params: GenerateParams;
  readonly #m: LoadedModel;
  readonly #send: Send;
  #prompt: number[] = [];
  /** Generated token ids, in order (those fed back to the model are in the KV cache too). */
  #generated: number[] = [];
  #scope = "";
  /** Caller scope and session: whose prefix cache entries the request may reuse, and who its own entry belongs to. */
  readonly #owner: CacheOwner;
  #cached = 0;
  #caches: KVCache[] = [];
  #sampler: Sampler | undefined;
  #processors: LogitsProcessors | undefined;
  #steps: Generator<GenerationStep, void, undefined> | undefined;
  #detok: StreamingDetokenizer | undefined;
  #stops: StopMatcher | undefined;
  #parser: OutputParser | undefined;
  #completion = 0;
  #cancelled = false;
  #outcome: GenerationOutcome | undefined;

  constructor(id: number, params: GenerateParams, loaded: LoadedModel, send: Send) {
    this.id = id;
    this.#params = params;
    this.#owner = { cacheScope: params.cache_scope ?? OPEN_CACHE_SCOPE, sessionId: params.session_id };
    this.#m = loaded;
    this.#send = send;
  }

  /** How the request ended; undefined while it runs. */
  get outcome(): GenerationOutcome | undefined {
    return this.#outcome;
  }

  /**
   * Renders and tokenizes the prompt and checks it against the context length. On failure the request ends with an
   * `error` message (400 for a template or length problem) and this returns false.
   */
  start(): boolean {
    const { tokenizer, info, model } = this.#m;
    const p = this.#params;
    try {
      const { text, tokens } = renderPrompt(this.#m, p);
      this.#prompt = tokens;
      const format = this.#m.outputFormat;
      this.#parser = new OutputParser(format, { startInReasoning: promptOpensReasoning(text, format), tools: p.tools });
    } catch (err) {
      return this.#fail((err as Error).message, err instanceof ChatTemplateError ? 400 : 500);
    }
    const limit = info.contextLength;
    if (limit && this.#prompt.length + p.max_tokens > limit) {
      return this.#fail(
        `prompt (${this.#prompt.length} tokens) + max_tokens (${p.max_tokens}) exceeds the model's context length of ${limit} tokens`,
        400,
      );
    }
    try {
      this.#scope = scopeOf(p);
      const reuse = this.#m.prefixCache.acquire(this.#prompt, this.#scope, this.#owner, model.config.numLayers);
      this.#caches = reuse.caches;
      this.#cached = reuse.cached;
      this.#send({ type: "prompt", id: this.id, promptTokens: this.#prompt.length, cachedTokens: this.#cached });
      this.#sampler = new Sampler(p);
      this.#processors = new LogitsProcessors(p, info.vocabSize, this.#prompt);
      this.#detok = new StreamingDetokenizer(tokenizer);
      this.#stops = new StopMatcher(p.stop);
      const uncached = this.#prompt.slice(this.#cached);
      this.#steps = generateSteps(model, this.#caches, this.#sampler, uncached, p.max_tokens, {
        processors: this.#processors.active ? this.#processors : undefined,
        topLogprobs: p.logprobs ? p.top_logprobs : undefined,
      });
    } catch (err) {
      this.#free();
      return this.#fail((err as Error).message, 500);
    }
    return true;
  }

  /** Asks the request to stop; it ends (`cancelled`) at its next turn. */
  cancel(): void {
    this.#cancelled = true;
  }

  /**
   * Runs one scheduling step (a prefill chunk or one decode step) and emits what it produced.
   * @returns true while the request has more to do
   */
  advance(): boolean {
    if (this.#outcome) return false;
    if (this.#cancelled) return this.#finish("cancelled", false);
    try {
      const next = this.#steps!.next();
      if (next.done) return this.#finish("length", true);
      const s = next.value;
      if (s.kind === "prefill") return true;
      this.#generated.push(s.token);
      if (this.#m.tokenizer.eosTokenIds.has(s.token)) return this.#finish("stop", true);
      this.#completion++;
      const { text, stop } = this.#stops!.push(this.#detok!.push(s.token));
      this.#emit(this.#parser!.push(text), s.logprob === undefined ? undefined : [this.#tokenLogprob(s)]);
      if (stop !== undefined) return this.#finish("stop", false, stop);
      return true;
    } catch (err) {
      this.#free();
      return this.#fail((err as Error).message, 500);
    }
  }

  /** Sends parsed deltas; a token's logprobs ride on its first delta (an empty one when its text is held back). */
  #emit(deltas: OutputDelta[], logprobs?: TokenLogprob[]): void {
    if (logprobs && deltas.length === 0) deltas = [{}];
    deltas.forEach((delta, i) => {
      this.#send({ type: "delta", id: this.id, delta, logprobs: i === 0 ? logprobs : undefined });
    });
  }

  #tokenLogprob(s: Extract<GenerationStep, { kind: "token" }>): TokenLogprob {
    const tokenizer = this.#m.tokenizer;
    const describe = (token: number, logprob: number) => ({
      token: tokenizer.tokenText(token),
      logprob,
      bytes: tokenizer.tokenBytes(token),
    });
    return { ...describe(s.token, s.logprob!), top_logprobs: (s.top ?? []).map((t) => describe(t.token, t.logprob)) };
  }

  /**
   * Ends the request. `flushText` releases text still held by the detokenizer and stop matcher (not after a stop
   * string, whose tail is dropped); a stop string that this last text completes makes the finish `stop` (as in vLLM,
   * a stop string wins over `length`). The output parser is flushed unless the request was cancelled. An answer that
   * made tool calls and stopped by itself finishes with `tool_calls`. The `done` message names the stop string only
   * when the finish is `stop`.
   * @param stopString the stop string that matched, when one did
   */
  #finish(reason: FinishReason, flushText: boolean, stopString?: string): false {
    if (reason !== "cancelled") {
      let tail = "";
      if (flushText) {
        const last = this.#stops!.push(this.#detok!.flush());
        tail = last.text + (last.stop === undefined ? this.#stops!.flush() : "");
        if (last.stop !== undefined) [reason, stopString] = ["stop", last.stop];
      }
      this.#emit([...this.#parser!.push(tail), ...this.#parser!.flush()]);
      if (reason === "stop" && this.#parser!.toolCallCount > 0) reason = "tool_calls";
    }
    this.#keepCaches();
    this.#free();
    const usage = {
      prompt_tokens: this.#prompt.length,
      completion_tokens: this.#completion,
      cached_tokens: this.#cached,
    };
    if (reason !== "stop") stopString = undefined;
    this.#send({ type: "done", id: this.id, finishReason: reason, usage, stopString });
    this.#outcome = { finishReason: reason, promptTokens: this.#prompt.length, completionTokens: this.#completion };
    return false;
  }

  #fail(message: string, status: number): false {
    this.#send({ type: "error", id: this.id, message, status });
    this.#outcome = { finishReason: "failed", promptTokens: this.#prompt.length, completionTokens: this.#completion };
    return false;
  }

  /**
   * Hands the KV cache to the prefix cache (which keeps or frees it) once the request ended normally or was
   * cancelled; after a failure the cache may be half-written and is freed instead.
   */
  #keepCaches(): void {
    this.#steps?.return();
    this.#steps = undefined;
    this.#m.prefixCache.release([...this.#prompt, ...this.#generated], this.#caches, this.#scope, this.#owner);
    this.#caches = [];
  }

  /** Frees the KV cache, the sampler's key and the processors' arrays (idempotent). */
  #free(): void {
    this.#steps?.return();
    this.#steps = undefined;
    freeCaches(this.#caches);
    this.#sampler?.free();
    this.#processors?.free();
    this.#sampler = this.#processors = undefined;
  }
}
