/**
 * Every inference request as a run (odyssai-x-wire §1.4, improved: every dialect, every backend, a real cancel):
 * begun when the request arrives, listed while it is in flight (`GET /admin/runs`), cancellable
 * (`POST /admin/runs/{id}/cancel`), and ended when its answer has — the last byte of a stream, not the handler's
 * return. An ended run is handed to the listeners as a {@link RequestRow} (the request log, the metrics).
 *
 * A run is cheap on the request path: a few fields set as the request goes, one `AbortController` (the backends'
 * signal, fed by the client's and by the operator's cancel) with one listener on the client's signal, and the row
 * built once at the end.
 */
import type { AnswerMeter } from "../backends/backend.ts";
import type { CatalogEntry } from "../catalog/catalog.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { RequestRow } from "../store/requests.ts";

/** The error a cancelled run's client gets (before its answer started; in-band after). */
export function cancelledError(id: string): OpenAIError {
  return new OpenAIError(499, `This request was cancelled by the operator (run ${id}).`, {
    code: "request_cancelled",
  });
}

/** How long a request whose client left may take to end by itself before its run is ended for it, in ms. */
export const CLIENT_GONE_GRACE_MS = 1_000;

/** A run in flight as `GET /admin/runs` lists it (times in ms). */
export interface RunView {
  id: string;
  /** ISO 8601. */
  started_at: string;
  age_ms: number;
  route: string;
  caller: string | null;
  model: string | null;
  served_model: string | null;
  backend: string | null;
  stream: boolean;
  /** `waiting`: no token yet; `generating`: tokens are flowing; `cancelling`: cancelled, not yet ended. */
  state: "waiting" | "generating" | "cancelling";
  ttft_ms: number | null;
}

/** One request, from its arrival to the end of its answer (see the module comment). */
export class Run implements AnswerMeter {
  readonly id: string = crypto.randomUUID();
  /** Arrival, unix ms. */
  readonly at: number = Date.now();
  /** The caller's auth scope, once the auth plugin decided. */
  caller: string | null = null;
  /** The model asked for. */
  model: string | null = null;
  stream = false;
  /** The catalog id and backend answering (the last tried, when all failed). */
  servedModel: string | null = null;
  backend: string | null = null;
  private readonly t0 = performance.now();
  private firstTokenAt: number | undefined;
  private promptTokens: number | null = null;
  private cachedTokens: number | null = null;
  private completionTokens: number | null = null;
  /** Aborted when the client leaves or the operator cancels: the backends' signal. */
  private readonly controller = new AbortController();
  private cancelled: OpenAIError | undefined;
  /** `open`: its handler runs; `streaming`: a stream is being sent; `ended`. */
  private phase: "open" | "streaming" | "ended" = "open";
  /** The route reads its answer's chunks itself: a relay's end is not the run's. */
  private chunksMetered = false;

  /**
   * @param route the request's path.
   * @param requestSignal aborted when the client goes away.
   * @param onEnd called once with the finished row.
   */
  constructor(
    readonly route: string,
    requestSignal: AbortSignal,
    private readonly onEnd: (run: Run, row: RequestRow) => void,
  ) {
    const clientLeft = () => {
      if (!this.controller.signal.aborted) this.controller.abort(requestSignal.reason);
      // The handler or the stream's reader hears of this too and ends the run (a reader knows whether the client had
      // the whole answer); should neither ever run again (a stream never read), the run ends here, a little later.
      const ending = () => this.end(this.phase === "streaming" ? 200 : 499, "client_closed");
      setTimeout(ending, CLIENT_GONE_GRACE_MS).unref?.();
    };
    if (requestSignal.aborted) clientLeft();
    else requestSignal.addEventListener("abort", clientLeft, { once: true });
  }

  /**
   * The signal backends get: aborted when the client goes away, or by {@link cancel} (then its reason is the
   * {@link cancelledError}).
   */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The operator's cancellation, once {@link cancel} was called. */
  get cancellation(): OpenAIError | undefined {
    return this.cancelled;
  }

  /** Whether the handler is done with it: its answer is a stream being sent, or it ended. */
  get settled(): boolean {
    return this.phase !== "open";
  }

  get ended(): boolean {
    return this.phase === "ended";
  }

  /** Whether a generated token was seen. */
  get hasFirstToken(): boolean {
    return this.firstTokenAt !== undefined;
  }

  /** What the route learns from the body: the model asked for, stream or not. */
  describe(model: string | null, stream: boolean): void {
    this.model = model;
    this.stream = stream;
  }

  /** The plan entry being tried. */
  serving(entry: CatalogEntry): void {
    this.servedModel = entry.model.id;
    this.backend = entry.backend.id;
  }

  usage(promptTokens: number | undefined, completionTokens: number | undefined, cachedTokens?: number): void {
    if (promptTokens !== undefined) this.promptTokens = promptTokens;
    if (completionTokens !== undefined) this.completionTokens = completionTokens;
    if (cachedTokens !== undefined) this.cachedTokens = cachedTokens;
  }

  firstToken(): void {
    this.firstTokenAt ??= performance.now();
  }

  /**
   * The handler hands a stream to the client: the run ends with it, not when the handler returns (and at the latest
   * when the client goes away, should the stream never be read).
   */
  streaming(): void {
    if (this.phase === "open") this.phase = "streaming";
  }

  /** The route reads the answer's chunks (and ends the run with them); a relay's end no longer counts. */
  meterChunks(): void {
    this.chunksMetered = true;
  }

  streamEnded(error?: string): void {
    if (!this.chunksMetered) this.end(200, error);
  }

  /**
   * Cancels the run: its backend's work is aborted and its client gets {@link cancelledError} (in-band when its
   * stream started). Nothing happens to a run that already ended or was cancelled.
   * @returns whether this call cancelled it.
   */
  cancel(): boolean {
    if (this.phase === "ended" || this.controller.signal.aborted) return false;
    this.cancelled = cancelledError(this.id);
    this.controller.abort(this.cancelled);
    return true;
  }

  /**
   * Ends the run once (later calls do nothing) and hands its row to the listeners.
   * @param status the HTTP status sent.
   * @param error the error's code, if it failed (in-band for a stream).
   */
  end(status: number, error?: string | null): void {
    if (this.phase === "ended") return;
    this.phase = "ended";
    const now = performance.now();
    const duration = now - this.t0;
    const decodeMs = this.firstTokenAt === undefined ? duration : now - this.firstTokenAt;
    const completion = this.completionTokens;
    this.onEnd(this, {
      id: this.id,
      at: this.at,
      caller: this.caller,
      route: this.route,
      model: this.model,
      served_model: this.servedModel,
      backend: this.backend,
      stream: this.stream,
      status,
      error: error ?? null,
      prompt_tokens: this.promptTokens,
      cached_tokens: this.cachedTokens,
      completion_tokens: completion,
      ttft_ms: this.firstTokenAt === undefined ? null : this.firstTokenAt - this.t0,
      tokens_per_s: completion !== null && completion > 0 && decodeMs > 0 ? completion / (decodeMs / 1000) : null,
      duration_ms: duration,
    });
  }

  /** The run as `GET /admin/runs` lists it. */
  view(): RunView {
    const first = this.firstTokenAt;
    return {
      id: this.id,
      started_at: new Date(this.at).toISOString(),
      age_ms: Math.round(performance.now() - this.t0),
      route: this.route,
      caller: this.caller,
      model: this.model,
      served_model: this.servedModel,
      backend: this.backend,
      stream: this.stream,
      state: this.cancelled ? "cancelling" : first === undefined ? "waiting" : "generating",
      ttft_ms: first === undefined ? null : Math.round(first - this.t0),
    };
  }
}

/** A listener of ended runs. */
export type RunListener = (row: RequestRow, run: Run) => void;

/** The runs in flight, and who hears of those that end (see the module comment). */
export class Runs {
  private readonly active = new Map<string, Run>();
  private readonly listeners: RunListener[] = [];
  private readonly ended = (run: Run, row: RequestRow) => {
    this.active.delete(run.id);
    for (const listener of this.listeners) {
      try {
        listener(row, run);
      } catch (error) {
        console.warn(`[ithaca] a run listener failed: ${(error as Error).message}`);
      }
    }
  };

  /** Begins a run for a request that just arrived on `route`. */
  begin(route: string, requestSignal: AbortSignal): Run {
    const run = new Run(route, requestSignal, this.ended);
    this.active.set(run.id, run);
    return run;
  }

  /** Calls `listener` with every run that ends from now on. */
  onEnd(listener: RunListener): void {
    this.listeners.push(listener);
  }

  /** The runs in flight, oldest first. */
  inFlight(): Run[] {
    return [...this.active.values()];
  }

  /** How many runs are in flight. */
  get size(): number {
    return this.active.size;
  }

  /** The run `id` while it is in flight. */
  get(id: string): Run | undefined {
    return this.active.get(id);
  }
}
