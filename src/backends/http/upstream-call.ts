/**
 * One upstream exchange: a single `AbortController` fed by the client's request signal and by a deadline timer, so
 * a client disconnect and a missed deadline both abort the upstream fetch or read.
 */

/** One attempt at an upstream request (see the module comment). */
export class UpstreamCall {
  readonly controller = new AbortController();
  readonly startedAt = Date.now();
  /** Set when a deadline fired: what was awaited and the deadline in milliseconds. */
  timedOut: { what: string; ms: number } | undefined;
  /** The client went away (its request signal aborted, or it stopped reading the stream). */
  clientGone = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onClientAbort = () => this.clientLeft();

  constructor(private readonly clientSignal: AbortSignal) {
    if (clientSignal.aborted) this.clientLeft();
    else clientSignal.addEventListener("abort", this.onClientAbort, { once: true });
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
    this.disarm();
    const left = fromStart ? ms - (Date.now() - this.startedAt) : ms;
    this.timer = setTimeout(
      () => {
        this.timedOut = { what, ms };
        this.controller.abort(new Error(`deadline: ${what}`));
      },
      Math.max(0, left),
    );
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the deadline and detaches from the client signal. */
  dispose(): void {
    this.disarm();
    this.clientSignal.removeEventListener("abort", this.onClientAbort);
  }
}

/** Readable cause of a fetch failure (Bun adds a `code` such as `ECONNREFUSED`). */
export function describeFailure(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? new Error(`${error.message} (${code})`) : error;
}
