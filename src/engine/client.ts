/**
 * Main-thread handle of one engine Worker (DESIGN §1): loads a model in the Worker, streams generation events back
 * as an async iterable, and turns an aborted request signal into a `cancel` message.
 */
import type { EngineStats, FromEngine, GenerateParams, ModelInfo, ToEngine, Usage, FinishReason } from "./protocol.ts";

/** Events of one generation, in order: `prompt`, any number of `token`, then `done` or `error`. */
export type GenerationEvent =
  | { type: "prompt"; promptTokens: number }
  | { type: "token"; text: string }
  | { type: "done"; finishReason: FinishReason; usage: Usage }
  | { type: "error"; message: string; status: number };

type Listener = (e: GenerationEvent) => void;

export class EngineClient {
  readonly info: ModelInfo;
  /** Outcomes confirmed by the Worker: a cancelled generation is counted once the Worker has stopped it. */
  readonly counters = { completed: 0, cancelled: 0, failed: 0 };
  readonly #worker: Worker;
  readonly #listeners = new Map<number, Listener>();
  readonly #statsWaiters = new Map<number, (s: EngineStats) => void>();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker, info: ModelInfo) {
    this.#worker = worker;
    this.info = info;
    worker.onmessage = (ev: MessageEvent<FromEngine>) => this.#dispatch(ev.data);
  }

  /**
   * Starts a Worker and loads the model directory in it.
   * @throws Error with the Worker's message when the model cannot be loaded (missing files, bad config, MLX error).
   */
  static async start(model: { id: string; path: string }): Promise<EngineClient> {
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
    const info = await new Promise<ModelInfo>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent<FromEngine>) => {
        if (ev.data.type === "loaded") resolve(ev.data.info);
        else if (ev.data.type === "load_error") reject(new Error(`loading model '${model.id}' from ${model.path}: ${ev.data.message}`));
      };
      worker.onerror = (ev) => reject(new Error(`engine worker for '${model.id}' failed: ${ev.message}`));
      worker.postMessage({ type: "load", model } satisfies ToEngine);
    }).catch((err) => {
      worker.terminate();
      throw err;
    });
    return new EngineClient(worker, info);
  }

  #dispatch(m: FromEngine): void {
    if (m.type === "stats") {
      this.#statsWaiters.get(m.id)?.(m.stats);
      this.#statsWaiters.delete(m.id);
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

  /**
   * Queues a generation and yields its events. Aborting `signal` sends `cancel`: the Worker stops within one decode
   * step and the iterable ends with `done` (`finishReason: "cancelled"`).
   */
  async *generate(params: GenerateParams, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (this.#closed) throw new Error(`model '${this.info.id}' is unloaded`);
    const id = this.#nextId++;
    const buffered: GenerationEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    this.#listeners.set(id, (e) => {
      buffered.push(e);
      wake?.();
    });
    const cancel = () => {
      if (!finished) this.#worker.postMessage({ type: "cancel", id } satisfies ToEngine);
    };
    signal?.addEventListener("abort", cancel, { once: true });
    this.#worker.postMessage({ type: "generate", id, params } satisfies ToEngine);
    try {
      while (true) {
        if (!buffered.length) await new Promise<void>((r) => (wake = r));
        wake = undefined;
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

  /** Counters and memory of the Worker. */
  stats(): Promise<EngineStats> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#statsWaiters.set(id, resolve);
      this.#worker.postMessage({ type: "stats", id } satisfies ToEngine);
    });
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
