/**
 * The limits of issued API keys (./api-keys.ts): requests per minute, tokens per minute and requests at once, each
 * refused with 429 and `Retry-After` (seconds) before the request's body is read. Per-minute windows are
 * rate-limiter-flexible's in-memory limiters (one per key, rebuilt when its limit changes); tokens are charged once
 * the answer's usage is known (`spend`), so the request that crosses the limit completes and the next ones wait.
 * Local use counts like any other: its cost is time, not money.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { OpenAIError } from "../protocol/errors.ts";
import type { IssuedKey } from "./api-keys.ts";

/** The window of `rpm` and `tpm`, in seconds. */
export const WINDOW_S = 60;

function tooMany(what: string, key: IssuedKey, retryAfterMs: number): OpenAIError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new OpenAIError(429, `API key '${key.id}' is over its ${what}; retry in ${seconds} s.`, {
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    headers: { "retry-after": String(seconds) },
  });
}

/** The per-key limiters (see the module comment). */
export class KeyLimits {
  private readonly rpm = new Map<string, { limit: number; limiter: RateLimiterMemory }>();
  private readonly tpm = new Map<string, { limit: number; limiter: RateLimiterMemory }>();
  private readonly inFlight = new Map<string, number>();

  /** @param windowS the window of `rpm` and `tpm`, in seconds (a minute; shorter in tests). */
  constructor(private readonly windowS = WINDOW_S) {}

  /**
   * Admits a request of `key`: counts it against its requests per minute, checks its tokens per minute, and takes a
   * place among its requests at once (to give back with the returned release, once the answer has been sent).
   * @returns the release function, or the 429 to answer.
   */
  async admit(key: IssuedKey): Promise<(() => void) | OpenAIError> {
    if (key.tpm !== null) {
      const used = await this.limiterOf(this.tpm, key.id, key.tpm).get(key.id);
      if (used && used.consumedPoints >= key.tpm) return tooMany("tokens per minute", key, used.msBeforeNext);
    }
    if (key.maxConcurrent !== null && (this.inFlight.get(key.id) ?? 0) >= key.maxConcurrent) {
      return tooMany("requests at once", key, 1000);
    }
    if (key.rpm !== null) {
      try {
        await this.limiterOf(this.rpm, key.id, key.rpm).consume(key.id);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return tooMany("requests per minute", key, rejection.msBeforeNext);
        throw rejection;
      }
    }
    if (key.maxConcurrent === null) return () => {};
    this.inFlight.set(key.id, (this.inFlight.get(key.id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key.id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key.id, left);
      else this.inFlight.delete(key.id);
    };
  }

  /** Charges `tokens` (prompt and completion) to `key`'s tokens per minute. */
  async spend(key: IssuedKey, tokens: number): Promise<void> {
    if (key.tpm === null || tokens <= 0) return;
    await this.limiterOf(this.tpm, key.id, key.tpm).penalty(key.id, tokens);
  }

  private limiterOf(
    limiters: Map<string, { limit: number; limiter: RateLimiterMemory }>,
    id: string,
    limit: number,
  ): RateLimiterMemory {
    let entry = limiters.get(id);
    if (entry?.limit !== limit) {
      entry = { limit, limiter: new RateLimiterMemory({ points: limit, duration: this.windowS }) };
      limiters.set(id, entry);
    }
    return entry.limiter;
  }
}
