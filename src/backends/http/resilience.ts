/**
 * Retry with backoff and cool-down (circuit breaker) for upstream calls, built on cockatiel.
 *
 * - Retries happen only before the first byte of the answer reaches the client, for failures where a second try can
 *   help: connection errors, the connect deadline, 429, 500, 502, 503, 504 and Anthropic's 529. The delay doubles
 *   from `retry.base_delay_ms` up to `retry.max_delay_ms` with full jitter (AWS "Exponential Backoff And Jitter"),
 *   unless the upstream sent `Retry-After` (seconds or an HTTP date), which is honoured as sent; one longer than
 *   `retry.max_retry_after_ms` is not waited for.
 * - Cool-down: after `cooldown.failures` consecutive failed requests (each after its retries) the upstream is
 *   skipped for `cooldown.duration_ms`; then one trial request decides whether it is back (cockatiel's half-open
 *   state). Client errors (4xx other than 429) are answers, not failures.
 */
import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhenResult,
  isBrokenCircuitError,
  retry,
  TaskCancelledError,
  wrap,
  type IBackoff,
  type IRetryBackoffContext,
} from "cockatiel";
import type { UpstreamConfig } from "../../config/schema.ts";

/** HTTP statuses worth another try (and that count towards cool-down). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504, 529]);

/** What one attempt came to, as the policies see it. */
export type AttemptOutcome<T> =
  | { kind: "ok"; value: T }
  /** Failed; `retryable` when another try may help; `retryAfterMs` from the upstream's `Retry-After`. */
  | { kind: "failed"; value: T; retryable: boolean; retryAfterMs?: number };

/**
 * Parses `Retry-After` (delta-seconds or an HTTP date) into milliseconds from `now`.
 * @returns undefined when absent or unparsable; 0 for a date in the past.
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  // RFC 9110 §10.2.3: delay-seconds is digits only (decimals tolerated, as some servers send them); else an HTTP-date.
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  if (!/^[A-Za-z]{3},? /.test(value.trim())) return undefined; // An HTTP-date starts with the day name.
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter that yields to the upstream's `Retry-After` when it sent one. */
class RetryAfterBackoff implements IBackoff<IRetryBackoffContext<unknown>> {
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    readonly duration = 0,
  ) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const outcome = "value" in context.result ? (context.result.value as AttemptOutcome<unknown>) : undefined;
    const told = outcome?.kind === "failed" ? outcome.retryAfterMs : undefined;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** (context.attempt - 1));
    return new RetryAfterBackoff(this.baseMs, this.maxMs, told ?? Math.round(Math.random() * ceiling));
  }
}

/** The retry and cool-down policies of one upstream. */
export class UpstreamResilience {
  private readonly breaker;
  /** The breaker's count of consecutive failed requests (0: none since the last success). */
  private readonly consecutive: ConsecutiveBreaker;
  private readonly policy;
  private openUntil = 0;

  constructor(upstream: Pick<UpstreamConfig, "retry" | "cooldown">) {
    const failed = handleWhenResult((r) => (r as AttemptOutcome<unknown>).kind === "failed");
    const retryable = handleWhenResult((r) => {
      const outcome = r as AttemptOutcome<unknown>;
      return outcome.kind === "failed" && outcome.retryable;
    });
    this.consecutive = new ConsecutiveBreaker(upstream.cooldown.failures);
    this.breaker = circuitBreaker(failed, { halfOpenAfter: upstream.cooldown.duration_ms, breaker: this.consecutive });
    this.breaker.onBreak(() => (this.openUntil = Date.now() + upstream.cooldown.duration_ms));
    this.breaker.onReset(() => (this.openUntil = 0));
    const retries = retry(retryable, {
      maxAttempts: upstream.retry.attempts - 1,
      backoff: new RetryAfterBackoff(upstream.retry.base_delay_ms, upstream.retry.max_delay_ms),
    });
    this.policy = wrap(this.breaker, retries);
  }

  /** False while cooling down (until `cooldown.duration_ms` after the breaker opened). */
  available(): boolean {
    return this.breaker.state === CircuitState.Closed || Date.now() >= this.openUntil;
  }

  /**
   * Runs `attempt` under the policies.
   * @returns the last attempt's outcome (failed when the retries ran out), or `"cooling"` when the upstream is in
   *   cool-down and was not tried.
   * @throws whatever `attempt` throws, and cockatiel's `TaskCancelledError` when `signal` aborts during a backoff.
   */
  async run<T>(attempt: () => Promise<AttemptOutcome<T>>, signal: AbortSignal): Promise<AttemptOutcome<T> | "cooling"> {
    // The common case, a healthy upstream answering the first try, skips the policies' layers: with the circuit
    // closed and no failure counted, a success changes nothing in them. A first failure is handed to them as their
    // first attempt's outcome, so retries, backoff and the failure count go on exactly as without this shortcut.
    if (this.breaker.state !== CircuitState.Closed || this.consecutive.state !== 0) {
      return this.underPolicies(attempt, signal);
    }
    if (signal.aborted) throw new TaskCancelledError();
    const first = await attempt();
    if (first.kind === "ok") {
      this.consecutive.success(); // a failure counted meanwhile by a concurrent request: a success resets it
      return first;
    }
    let replay: AttemptOutcome<T> | undefined = first;
    const outcome = await this.underPolicies(async () => {
      const told = replay;
      replay = undefined;
      return told ?? attempt();
    }, signal);
    // Concurrent failures opened the circuit meanwhile: this request's own failure is its answer.
    return outcome === "cooling" && replay !== undefined ? replay : outcome;
  }

  /** {@link run} under cockatiel's retry and circuit breaker policies. */
  private async underPolicies<T>(
    attempt: () => Promise<AttemptOutcome<T>>,
    signal: AbortSignal,
  ): Promise<AttemptOutcome<T> | "cooling"> {
    // cockatiel 4.0.0 waits a backoff out even when the signal aborts: once an attempt failed in a way that will be
    // retried, race the abort against the wait; an attempt that would start after the abort does nothing.
    let cancel!: (error: unknown) => void;
    const cancelled = new Promise<never>((_, reject) => (cancel = reject));
    cancelled.catch(() => {});
    let onAbort: (() => void) | undefined;
    const guarded = async (): Promise<AttemptOutcome<T>> => {
      if (signal.aborted) throw new TaskCancelledError();
      const outcome = await attempt();
      if (outcome.kind === "failed" && outcome.retryable && onAbort === undefined) {
        onAbort = () => cancel(new TaskCancelledError());
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) onAbort();
      }
      return outcome;
    };
    try {
      return await Promise.race([this.policy.execute(guarded, signal), cancelled]);
    } catch (error) {
      if (isBrokenCircuitError(error)) return "cooling";
      throw error;
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }
}
