/**
 * One upstream exchange: a single `AbortController` fed by the client's request signal and by a deadline, so a
 * client disconnect and a missed deadline both abort the upstream fetch or read.
 *
 * The deadline moves on every chunk of a stream; rather than a timer per chunk, one timer runs and, when it fires
 * early because the deadline moved later, re-arms itself for what is left. A deadline moved earlier re-arms it at once.
 *
 * The request signal also carries an operator's cancellation (`POST /admin/runs/{id}/cancel`): its reason is then the
 * {@link OpenAIError} to answer ({@link UpstreamCall.cancelled}), where a client that left is owed nothing.
 */
import { OpenAIError } from "../../protocol/errors.ts";

/** The operator's cancellation a signal was aborted with, if that is why it was aborted. */
export function cancellationOf(signal: AbortSignal): OpenAIError | undefined {
  return signal.aborted && signal.reason instanceof OpenAIError ? signal.reason : undefined;
}

/** One attempt at an upstream request (see the module comment). */
export class UpstreamCall {
  readonly controller = new AbortController();
  readonly startedAt = Date.now();
  /** Set when a deadline fired: what was awaited and the deadline in milliseconds. */
  timedOut: { what: string; ms: number } | undefined;
  /** The client went away (its request signal aborted, or it stopped reading the stream). */
  clientGone = false;
  /** The operator cancelled the request: the error its client gets. */
  cancelled: OpenAIError | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires (epoch ms), while one runs. */
  private timerAt = 0;
  /** The deadline in force (epoch ms) and what it waits for; undefined while disarmed. */
  private deadline: { at: number; what: string; ms: number } | undefined;
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
    const at = (fromStart ? this.startedAt : Date.now()) + ms;
    this.deadline = { at, what, ms };
    if (this.timer === undefined || at < this.timerAt) this.schedule(at);
  }

  /** Suspends the deadline (the timer, if running, finds nothing to do). */
  disarm(): void {
    this.deadline = undefined;
  }

  private schedule(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.check(), Math.max(0, at - Date.now()));
  }

  /** The timer fired: abort when the deadline passed, re-arm for what is left when it moved later. */
  private check(): void {
    this.timer = undefined;
    const deadline = this.deadline;
    if (deadline === undefined) return;
    if (deadline.at > Date.now()) {
      this.schedule(deadline.at);
      return;
    }
    this.timedOut = { what: deadline.what, ms: deadline.ms };
    this.controller.abort(new Error(`deadline: ${deadline.what}`));
  }

  /** Stops the deadline and detaches from the client signal. */
  dispose(): void {
    this.disarm();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.clientSignal.removeEventListener("abort", this.onClientAbort);
  }
}

/** Readable cause of a fetch failure (Bun adds a `code` such as `ECONNREFUSED`). */
export function describeFailure(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? new Error(`${error.message} (${code})`) : error;
}
