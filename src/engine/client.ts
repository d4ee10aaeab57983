/**
 * Main-thread handle of one engine Worker (DESIGN §1): loads a model in the Worker, streams generation events back
 * as an async iterable, and turns an aborted request signal into a `cancel` message.
 */
import type {
  EngineStats,
  FinishReason,
  FromEngine,
  GenerateParams,
  MemoryLimits,
  ModelInfo,
  OutputDelta,
  ToEngine,
  TokenLogprob,
  Usage,
} from "./worker-messages.ts";
import type { PrefixCacheEntryInfo, PrefixCacheOptions } from "./prefix-cache.ts";

/**
 * Events of one generation, in order: `prompt`, any number of `delta`, then `done` or `error`. `done.stopString` is
 * the request's stop string that ended the answer (only with `finishReason: "stop"`; absent after an end-of-turn
 * token).
 */
export type GenerationEvent =
  | { type: "prompt"; promptTokens: number; cachedTokens: number }
  | { type: "delta"; delta: OutputDelta; logprobs?: TokenLogprob[] }
  | { type: "done"; finishReason: FinishReason; usage: Usage; stopString?: string }
  | { type: "error"; message: string; status: number; param?: string };

/**
 * How many generations one model serves at once, how many may wait, and its prefix cache. Every value is given: the
 * defaults live in the config schema (`engine:` of src/config/schema.ts), which src/backends/mlx/engine-settings.ts maps.
 */
export interface EngineLimits {
  /** Generations decoded together (interleaved step by step). */
  maxActive: number;
  /** Requests allowed to wait beyond `maxActive`; more are refused with 503. */
  maxQueue: number;
  /** MLX allocator limits, applied in the Worker before loading; absent: MLX's own. */
  memory?: MemoryLimits;
  /** Prefix cache switches and limits. */
  prefixCache: PrefixCacheOptions;
  /** Cast bf16/f16 quantization scales to float32 at load (faster on the CPU; not bit-identical to mlx-lm). */
  upcastQuantizedScales?: boolean;
  /** CPU streams each quantized matmul is spread over (bit-identical; faster on a multi-core CPU); absent: 1. */
  matmulStreams?: number;
}

/** Thrown by {@link EngineClient.generate} when `maxActive + maxQueue` generations are already in flight. */
export class EngineBusyError extends Error {
  readonly status = 503;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  readonly retryAfterS: number;
  constructor(model: string, inFlight: number, retryAfterS = 1) {
    super(`model '${model}' is busy: ${inFlight} requests in flight and the queue is full; retry later`);
    this.retryAfterS = retryAfterS;
  }
}

/** The engine's Worker entry points (files of src/engine/). */
export type EngineWorkerName = "worker" | "token-count-worker" | "library-worker";

/**
 * Where to start an engine Worker from: this module's sibling `<name>.ts` when running from source; in a standalone
 * binary (`bun build --compile`, scripts/build-binary.ts) the entry point embedded under its repository path
 * (`./src/engine/<name>.ts`, resolved by Bun inside the binary), since every bundled module there shares the binary's
 * own `import.meta.url`.
 */
export function engineWorkerUrl(name: EngineWorkerName): string {
  if (Bun.isStandaloneExecutable) return `./src/engine/${name}.ts`;
  return new URL(`./${name}.ts`, import.meta.url).href;
}

/**
 * The environment a Worker starts with: this thread's `process.env` as it is now. Bun gives a Worker the environment
 * the process started with unless told otherwise, and a standalone binary sets `MLXC_NATIVE_DIR` (where it extracted
 * its MLX libraries) after starting, which the Worker's library loading must see.
 */
export function workerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

/**
 * Requests sent to a Worker that each await the one answer the Worker posts back under the same `id` (the
 * request/answer half of a Worker protocol; streamed answers are routed by their owner). Shared by the Worker handles
 * of the main thread.
 * @typeParam A the answer messages
 */
export class PendingReplies<A extends { id: number }> {
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (answer: A) => void; reject: (error: Error) => void }>();

  /**
   * Sends a request under a fresh id and waits for its answer.
   * @param post posts the request, carrying `id`, to the Worker
   * @returns the answer later given to {@link settle} for that id
   * @throws what {@link rejectAll} is given, when the Worker fails or stops first
   */
  ask(post: (id: number) => void): Promise<A> {
    const id = this.#nextId++;
    return new Promise<A>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      post(id);
    });
  }

  /** Hands an answer to the request of its id (none waits for it any more: ignored). */
  settle(answer: A): void {
    this.#waiting.get(answer.id)?.resolve(answer);
    this.#waiting.delete(answer.id);
  }

  /** Fails every request still waiting with `error` (the Worker failed or was stopped). */
  rejectAll(error: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const { reject } of waiting) reject(error);
  }
}

type Listener = (e: GenerationEvent) => void;

export class EngineClient {
  readonly info: ModelInfo;
  /** Outcomes confirmed by the Worker: a cancelled generation is counted once the Worker has stopped it. */
  readonly counters = { completed: 0, cancelled: 0, failed: 0 };
  readonly #worker: Worker;
  readonly #capacity: number;
  readonly #listeners = new Map<number, Listener>();
  /** Answers awaited from the Worker (`stats`, `sessions`, `clear_sessions`). */
  readonly #replies = new PendingReplies<Extract<FromEngine, { id: number }>>();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker, info: ModelInfo, capacity: number) {
    this.#worker = worker;
    this.info = info;
    this.#capacity = capacity;
    worker.onmessage = (ev: MessageEvent<FromEngine>) => this.#dispatch(ev.data);
  }

  /**
   * Starts a Worker and loads the model directory in it.
   * @throws Error with the Worker's message when the model cannot be loaded (missing files, bad config, MLX error).
   */
  static async start(model: { id: string; path: string }, limits: EngineLimits): Promise<EngineClient> {
    const { maxActive, maxQueue } = limits;
    const worker = new Worker(engineWorkerUrl("worker"), { env: workerEnv() });
    const info = await new Promise<ModelInfo>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent<FromEngine>) => {
        if (ev.data.type === "loaded") resolve(ev.data.info);
        else if (ev.data.type === "load_error")
          reject(new Error(`loading model '${model.id}' from ${model.path}: ${ev.data.message}`));
      };
      worker.onerror = (ev) => reject(new Error(`engine worker for '${model.id}' failed: ${ev.message}`));
      worker.postMessage({
        type: "load",
        model,
        maxActive,
        memory: limits.memory,
        prefixCache: limits.prefixCache,
        upcastQuantizedScales: limits.upcastQuantizedScales,
        matmulStreams: limits.matmulStreams,
      } satisfies ToEngine);
    }).catch((err) => {
      worker.terminate();
      throw err;
    });
    return new EngineClient(worker, info, maxActive + maxQueue);
  }

  #dispatch(m: FromEngine): void {
    if (m.type === "stats" || m.type === "sessions" || m.type === "sessions_cleared") {
      this.#replies.settle(m);
      return;
    }
    if (m.type === "loaded" || m.type === "load_error" || m.type === "unloaded") return;
    if (m.type === "done") this.counters[m.finishReason === "cancelled" ? "cancelled" : "completed"]++;
    if (m.type === "error") this.counters.failed++;
    const listener = this.#listeners.get(m.id);
    if (!listener) return;
    if (m.type === "done" || m.type === "error") this.#listeners.delete(m.id);
    const { id: _id, ...event } = m;
    listener(event as GenerationEvent);
  }

  /** Generations queued or running in the Worker. */
  get inFlight(): number {
    return this.#listeners.size;
  }

  /**
   * Queues a generation and yields its events. Aborting `signal` sends `cancel`: the Worker stops within one decode
   * step and the iterable ends with `done` (`finishReason: "cancelled"`).
   * @throws EngineBusyError (synchronously, before anything is queued) when the model's queue is full
   */
  generate(params: GenerateParams, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (this.#closed) throw new Error(`model '${this.info.id}' is unloaded`);
    if (this.inFlight >= this.#capacity) throw new EngineBusyError(this.info.id, this.inFlight);
    const id = this.#nextId++;
    const listening = this.#listen(id);
    this.#worker.postMessage({ type: "generate", id, params } satisfies ToEngine);
    return this.#events(id, listening, signal);
  }

  #listen(id: number): { buffered: GenerationEvent[]; wake?: () => void } {
    const state: { buffered: GenerationEvent[]; wake?: () => void } = { buffered: [] };
    this.#listeners.set(id, (e) => {
      state.buffered.push(e);
      state.wake?.();
    });
    return state;
  }

  async *#events(
    id: number,
    state: { buffered: GenerationEvent[]; wake?: () => void },
    signal?: AbortSignal,
  ): AsyncGenerator<GenerationEvent> {
    const buffered = state.buffered;
    let finished = false;
    const cancel = () => {
      if (!finished) this.#worker.postMessage({ type: "cancel", id } satisfies ToEngine);
    };
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      while (true) {
        if (!buffered.length) await new Promise<void>((r) => (state.wake = r));
        state.wake = undefined;
        const e = buffered.shift()!;
        if (e.type === "done" || e.type === "error") finished = true;
        yield e;
        if (finished) return;
      }
    } finally {
      // The consumer stopped early (client gone): make sure the Worker stops too.
      cancel();
      finished = true;
      signal?.removeEventListener("abort", cancel);
    }
  }

  /** Sends a request that the Worker answers with one message of the same id. */
  async #ask<T extends FromEngine["type"]>(
    request: (id: number) => ToEngine,
    _answer: T,
  ): Promise<Extract<FromEngine, { type: T }>> {
    return (await this.#replies.ask((id) => this.#worker.postMessage(request(id)))) as Extract<FromEngine, { type: T }>;
  }

  /** Counters and memory of the Worker. */
  async stats(): Promise<EngineStats> {
    return (await this.#ask((id) => ({ type: "stats", id }), "stats")).stats;
  }

  /** The prefix cache's entries (sessions and shared prefixes), most recently stored first. */
  async sessions(): Promise<PrefixCacheEntryInfo[]> {
    return (await this.#ask((id) => ({ type: "sessions", id }), "sessions")).entries;
  }

  /**
   * Drops one session's cache, or every kept cache, freeing their memory.
   * @returns how many entries were dropped
   */
  async clearSessions(sessionId?: string): Promise<number> {
    return (await this.#ask((id) => ({ type: "clear_sessions", id, sessionId }), "sessions_cleared")).cleared;
  }

  /** Frees the model's MLX memory and stops the Worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      this.#worker.addEventListener("message", (ev: MessageEvent<FromEngine>) => {
        if (ev.data.type !== "unloaded") return;
        clearTimeout(t);
        resolve();
      });
      this.#worker.postMessage({ type: "unload" } satisfies ToEngine);
    });
    this.#worker.terminate();
  }
}
