/**
 * One upstream exchange: a single `AbortController` fed by the client's request signal and by a deadline, so a
 * client disconnect and a missed deadline both abort the upstream fetch or read.
 *
 * The deadline moves on every chunk of a stream: rather than a timer each, the exchange is watched by the request
 * path's shared deadline sweep (src/protocol/deadline-sweep.ts) from its start to its end, and arming, moving or
 * suspending its deadline is a field write. A deadline fires at most one sweep tick late.
 *
 * The request signal also carries an operator's cancellation (`POST /admin/runs/{id}/cancel`): its reason is then the
 * {@link OpenAIError} to answer ({@link UpstreamCall.cancelled}), where a client that left is owed nothing.
 */
import { deadlines, type Expiring } from "../../protocol/deadline-sweep.ts";
import { OpenAIError } from "../../protocol/errors.ts";

/** The operator's cancellation a signal was aborted with, if that is why it was aborted. */
export function cancellationOf(signal: AbortSignal): OpenAIError | undefined {
  return signal.aborted && signal.reason instanceof OpenAIError ? signal.reason : undefined;
}

/** One attempt at an upstream request (see the module comment). */
export class UpstreamCall implements Expiring {
  readonly controller = new AbortController();
  /** When the exchange started (`performance.now()` ms). */
  readonly startedAt = performance.now();
  /** Set when a deadline fired: what was awaited and the deadline in milliseconds. */
  timedOut: { what: string; ms: number } | undefined;
  /** The client went away (its request signal aborted, or it stopped reading the stream). */
  clientGone = false;
  /** The operator cancelled the request: the error its client gets. */
  cancelled: OpenAIError | undefined;
  /** The deadline in force (`performance.now()` ms); `Infinity` while disarmed. */
  expiresAt = Number.POSITIVE_INFINITY;
  /** What the deadline in force waits for, and its length in ms. */
  private what = "";
  private ms = 0;
  private watched = false;
  private readonly onClientAbort = () => this.signalled();

  constructor(private readonly clientSignal: AbortSignal) {
    if (clientSignal.aborted) this.signalled();
    else clientSignal.addEventListener("abort", this.onClientAbort, { once: true });
  }

  /** The request signal aborted: the operator cancelled, or the client left. */
  private signalled(): void {
    this.cancelled = cancellationOf(this.clientSignal);
    if (this.cancelled) this.controller.abort(this.cancelled);
    else this.clientLeft();
  }

  /** Records the client's departure and aborts the upstream fetch. */
  clientLeft(): void {
    this.clientGone = true;
    this.controller.abort(new Error("client disconnected"));
  }

  /**
   * (Re)starts the deadline: `ms` milliseconds to get `what`, counted from now, or from the start of the exchange
   * when `fromStart`.
   */
  arm(what: string, ms: number, fromStart = false): void {
    this.expiresAt = (fromStart ? this.startedAt : performance.now()) + ms;
    this.what = what;
    this.ms = ms;
    if (this.watched) return;
    this.watched = true;
    deadlines.watch(this);
  }

  /** Suspends the deadline. */
  disarm(): void {
    this.expiresAt = Number.POSITIVE_INFINITY;
  }

  /** The deadline passed (the sweep calls this once and stops watching). */
  expire(): void {
    this.watched = false;
    this.timedOut = { what: this.what, ms: this.ms };
    this.controller.abort(new Error(`deadline: ${this.what}`));
  }

  /** Stops the deadline and detaches from the client signal. */
  dispose(): void {
    this.disarm();
    if (this.watched) deadlines.unwatch(this);
    this.watched = false;
    this.clientSignal.removeEventListener("abort", this.onClientAbort);
  }
}

/** Readable cause of a fetch failure (Bun adds a `code` such as `ECONNREFUSED`). */
export function describeFailure(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? new Error(`${error.message} (${code})`) : error;
}
