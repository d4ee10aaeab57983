/**
 * One request inside the engine Worker: renders and tokenizes the prompt, finds its prefix-cache hit, owns its
 * sampler and logits processors, and, as a {@link BatchSequence} of the model's {@link BatchGenerator}, turns each
 * token the batch generates for it into `delta` / `done` / `error` messages (EOS and `max_tokens`, stop strings held
 * back across tokens, cancellation).
 *
 * The batch owns the request's KV cache while it runs and hands it back when the request leaves (`onLeave`), which
 * keeps it in the prefix cache; every array the request owns is freed when it ends, however it ends.
 */
import { ChatTemplateError } from "./chat-template.ts";
import type { BatchSequence } from "./batch-generator.ts";
import type { RowSampling, SampledToken } from "./batch-sampling.ts";
import { GrammarConstraint } from "./grammar/constraint.ts";
import { GrammarRequestError } from "./grammar/grammar.ts";
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

export class Generation implements BatchSequence {
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
  #constraint: GrammarConstraint | undefined;
  /** What the batch samples with (set by {@link start}). */
  #sampling: RowSampling | undefined;
  #detok: StreamingDetokenizer | undefined;
  #stops: StopMatcher | undefined;
  #parser: OutputParser | undefined;
  #completion = 0;
  #cancelled = false;
  #ended = false;
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

  /** Whether the request is over and holds nothing any more (it left the batch, or never entered it). */
  get ended(): boolean {
    return this.#ended || (this.#outcome !== undefined && this.#sampling === undefined);
  }

  /** Whether {@link cancel} was called. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  get sampling(): RowSampling {
    if (!this.#sampling) throw new Error(`request ${this.id} has not started`);
    return this.#sampling;
  }

  /**
   * What the batch needs to start the request after {@link start}: the prompt tokens not in the prefix-cache hit, and
   * the hit's caches (the batch owns them from now on).
   */
  enter(): { prompt: number[]; caches: KVCache[] } {
    const caches = this.#caches;
    this.#caches = [];
    return { prompt: this.#prompt.slice(this.#cached), caches };
  }

  /**
   * Renders and tokenizes the prompt and checks it against the context length. On failure the request ends with an
   * `error` message (400 for a template or length problem, or a structured output that cannot be enforced) and this
   * returns false.
   */
  start(): boolean {
    const { tokenizer, info, model } = this.#m;
    const p = this.#params;
    let startInReasoning = false;
    try {
      const { text, tokens } = renderPrompt(this.#m, p);
      this.#prompt = tokens;
      const format = this.#m.outputFormat;
      startInReasoning = promptOpensReasoning(text, format);
      this.#parser = new OutputParser(format, { startInReasoning, tools: p.tools });
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
      if (p.grammar) this.#constraint = new GrammarConstraint(this.#m, p, startInReasoning);
    } catch (err) {
      const refused = err instanceof GrammarRequestError;
      return this.#fail((err as Error).message, refused ? 400 : 500, refused ? err.param : undefined);
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
      this.#sampling = {
        sampler: this.#sampler,
        processors: this.#processors.active ? this.#processors : undefined,
        topLogprobs: p.logprobs ? p.top_logprobs : undefined,
        constraint: this.#constraint,
      };
    } catch (err) {
      this.#free();
      return this.#fail((err as Error).message, 500);
    }
    return true;
  }

  /** Asks the request to stop; the scheduler removes it from the batch at the next step boundary (`cancelled`). */
  cancel(): void {
    this.#cancelled = true;
  }

  /**
   * A token the batch generated for the request: emits its text (and logprobs).
   * @returns false when the request is done: end-of-turn token, `max_tokens`, a stop string, or a failure to emit
   */
  onToken(s: SampledToken): boolean {
    if (this.#outcome) return false;
    try {
      this.#generated.push(s.token);
      if (this.#m.tokenizer.eosTokenIds.has(s.token)) return this.#finish("stop", true);
      this.#completion++;
      const { text, stop } = this.#stops!.push(this.#detok!.push(s.token));
      this.#emit(this.#parser!.push(text), s.logprob === undefined ? undefined : [this.#tokenLogprob(s)]);
      if (stop !== undefined) return this.#finish("stop", false, stop);
      if (this.#generated.length >= this.#params.max_tokens) return this.#finish("length", true);
      return true;
    } catch (err) {
      return this.#fail((err as Error).message, 500);
    }
  }

  /**
   * The request left the batch with its KV cache (every token fed: prompt, then generated). A request that left
   * without finishing was cancelled. The cache goes to the prefix cache, which keeps or frees it; after a failure it
   * may be half-written and is freed.
   */
  onLeave(caches: KVCache[]): void {
    if (!this.#outcome) this.#finish("cancelled", false);
    if (this.#outcome!.finishReason === "failed") freeCaches(caches);
    else this.#m.prefixCache.release([...this.#prompt, ...this.#generated], caches, this.#scope, this.#owner);
    this.#free();
  }

  /** The batch failed (MLX error) and freed the request's KV cache: the request ends with a 500. */
  abort(message: string): void {
    if (!this.#outcome) this.#fail(message, 500);
    this.#free();
  }

  /** Sends parsed deltas; a token's logprobs ride on its first delta (an empty one when its text is held back). */
  #emit(deltas: OutputDelta[], logprobs?: TokenLogprob[]): void {
    if (logprobs && deltas.length === 0) deltas = [{}];
    deltas.forEach((delta, i) => {
      this.#send({ type: "delta", id: this.id, delta, logprobs: i === 0 ? logprobs : undefined });
    });
  }

  #tokenLogprob(s: SampledToken): TokenLogprob {
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

  #fail(message: string, status: number, param?: string): false {
    this.#send({ type: "error", id: this.id, message, status, param });
    this.#outcome = { finishReason: "failed", promptTokens: this.#prompt.length, completionTokens: this.#completion };
    return false;
  }

  /** Frees the KV cache, the sampler's key, the processors' arrays and the grammar matcher (idempotent). */
  #free(): void {
    this.#ended = true;
    this.#sampling = undefined;
    freeCaches(this.#caches);
    this.#sampler?.free();
    this.#processors?.free();
    this.#constraint?.free();
    this.#sampler = this.#processors = this.#constraint = undefined;
  }
}
