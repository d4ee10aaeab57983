/**
 * Messages between the main thread and the engine Worker (DESIGN §1): `load`, `generate`, `cancel`, `stats`, `unload`
 * in; `loaded`, `token`, `done`, `error`, `stats` out; `sessions` / `clear_sessions` list and drop the prefix cache's
 * entries. Only plain data crosses (structured clone).
 */
import type { BlasInfo } from "./blas.ts";
import type { PrefixCacheEntryInfo, PrefixCacheOptions, PrefixCacheStats } from "./prefix-cache.ts";

/** A chat request as the engine needs it (already validated by the HTTP layer). */
export interface GenerateParams {
  messages: unknown[];
  tools?: unknown[];
  enable_thinking?: boolean;
  reasoning_effort?: string;
  /** Completion budget in tokens. */
  max_tokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  top_p: number;
  /** Keep the k most likely tokens; 0 = off. */
  top_k: number;
  /** Keep tokens with probability >= min_p × the top probability; 0 = off. */
  min_p: number;
  /** Sign-aware multiplicative penalty on the last `repetition_context_size` tokens (mlx-lm); 1 or absent = off. */
  repetition_penalty?: number;
  /** Tokens (prompt + completion) the penalties look back over; mlx-lm's default is 20. */
  repetition_context_size: number;
  /** OpenAI `presence_penalty`: subtracted once from each token seen in the context window; 0 = off. */
  presence_penalty: number;
  /** OpenAI `frequency_penalty`: subtracted per occurrence in the context window; 0 = off. */
  frequency_penalty: number;
  /** OpenAI `logit_bias`: token id → bias added to its logit. */
  logit_bias?: Record<string, number>;
  /** Return the log-probability of each sampled token. */
  logprobs: boolean;
  /** Alternatives per position (0–20), with `logprobs`. */
  top_logprobs: number;
  seed?: number;
  /** Stop strings; the matched text is not returned. */
  stop: string[];
  /** The conversation whose KV cache the request continues (within its `cache_scope`). */
  session_id?: string;
  /**
   * The caller's cache scope (`open`, `admin`, `key:<hex>`; absent = `open`): the prefix cache reuses, and reports as
   * `cached_tokens`, only entries of the same scope.
   */
  cache_scope?: string;
  /** Structured output the answer is constrained to (grammar-constrained decoding); absent = free text. */
  grammar?: GrammarSpec;
}

/**
 * What a constrained answer must be (`src/engine/grammar/`): a JSON object (`response_format: json_object`), a JSON
 * value valid against `schema` (`json_schema`), or a call of the tool `name` — of any of the request's `tools` when
 * absent (`tool_choice: "required"`), then one or more calls when `parallel` — in the model's tool-call syntax.
 */
export type GrammarSpec =
  | { type: "json_object" }
  | { type: "json_schema"; schema: Record<string, unknown> }
  | { type: "tool_call"; name?: string; parallel: boolean };

export interface ModelInfo {
  id: string;
  path: string;
  arch: string;
  /** Parameter bytes. */
  nbytes: number;
  vocabSize: number;
  contextLength?: number;
  quantization?: { groupSize: number; bits: number };
  /** Output capabilities of the chat template (`tools`, `thinking`), see `outputCapabilities`. */
  capabilities: string[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens served from the prefix cache (included in `prompt_tokens`). */
  cached_tokens: number;
}

/**
 * Why a generation ended: `stop` (end-of-turn token or a stop string; `done.stopString` then names the string),
 * `length` (`max_tokens`), `tool_calls` (ended by itself after making tool calls), `cancelled`.
 */
export type FinishReason = "stop" | "length" | "tool_calls" | "cancelled";

/** One alternative at a position, OpenAI `top_logprobs` item: `bytes` are the token's UTF-8 bytes. */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

/** OpenAI `choices[].logprobs.content[]` item for one sampled token. */
export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

/** A tool call as streamed in OpenAI `delta.tool_calls`: complete when sent (name and full JSON arguments). */
export interface ToolCallDelta {
  /** Position of the call in the message's `tool_calls` (0-based). */
  index: number;
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A piece of the answer, already split into the OpenAI message fields. */
export interface OutputDelta {
  content?: string;
  /** Text between the model's thinking markers (`<think>…</think>`). */
  reasoning_content?: string;
  tool_calls?: ToolCallDelta[];
}

/** MLX allocator limits applied when the Worker starts (bytes; process-wide in MLX). */
export interface MemoryLimits {
  cacheLimitBytes?: number;
  wiredLimitBytes?: number;
}

export interface EngineStats {
  requests: number;
  completed: number;
  cancelled: number;
  failed: number;
  queued: number;
  active: number;
  generatedTokens: number;
  /** Forward passes of the decoding batch: with several requests decoding together, fewer than generated tokens. */
  decodeSteps: number;
  promptTokens: number;
  /** Live MxArray handles in the worker (leak check; includes the prefix cache's `arrays`). */
  liveArrays: number;
  /** Kept KV caches. */
  prefixCache: PrefixCacheStats;
  memory: { active: number; cache: number; peak: number };
}

export type ToEngine =
  | {
      type: "load";
      model: { id: string; path: string };
      maxActive: number;
      memory?: MemoryLimits;
      prefixCache: PrefixCacheOptions;
      /** Cast bf16/f16 quantization scales to float32 at load (engine.upcast_quantized_scales). */
      upcastQuantizedScales?: boolean;
      /** CPU streams each quantized matmul is spread over (engine.matmul_streams, resolved); absent: 1. */
      matmulStreams?: number;
    }
  | { type: "generate"; id: number; params: GenerateParams }
  | { type: "cancel"; id: number }
  | { type: "stats"; id: number }
  | { type: "sessions"; id: number }
  | { type: "clear_sessions"; id: number; sessionId?: string }
  | { type: "unload" };

/**
 * Worker → main thread. `done.stopString`: the request's stop string whose match ended the answer, only with
 * `finishReason: "stop"` (absent when an end-of-turn token ended it). `error.param`: the request field at fault, when
 * one is (a structured output that cannot be enforced names `response_format`, `tool_choice` or `tools`).
 */
export type FromEngine =
  | { type: "loaded"; info: ModelInfo }
  | { type: "load_error"; message: string }
  | { type: "prompt"; id: number; promptTokens: number; cachedTokens: number }
  | { type: "delta"; id: number; delta: OutputDelta; logprobs?: TokenLogprob[] }
  | { type: "done"; id: number; finishReason: FinishReason; usage: Usage; stopString?: string }
  | { type: "error"; id: number; message: string; status: number; param?: string }
  | { type: "stats"; id: number; stats: EngineStats }
  | { type: "sessions"; id: number; entries: PrefixCacheEntryInfo[] }
  | { type: "sessions_cleared"; id: number; cleared: number }
  | { type: "unloaded" };

/**
 * The answer of the library-probe Worker (`library-worker.ts`): which MLX C library this process opens and the MLX
 * version it carries (`mlx_version`), or why none opens. `pinnedMlxVersion` is the version the compatibility library
 * is built against; another version in a foreign libmlxc (`MLX_C_LIBRARY`, system) is reported, not refused.
 */
export type LibraryProbe =
  | {
      ok: true;
      path: string;
      source: "env" | "system" | "compat" | "bundled";
      mlxVersion: string;
      pinnedMlxVersion: string;
      /** Whether the default stream is a GPU (Metal) stream. */
      gpu: boolean;
      /** The BLAS behind its CPU float32 matrix products. */
      blas: BlasInfo;
    }
  | { ok: false; error: string; pinnedMlxVersion: string };
