/**
 * Upstream resilience (src/backends/http/resilience.ts): which statuses are retried, `Retry-After` parsing, the retry
 * count, backoff delays (exponential with full jitter, capped; a `Retry-After` honoured as sent), the cool-down that
 * opens after consecutive failed requests and closes after its duration, and aborts during a backoff. Tiny delays
 * throughout. The HTTP client that uses it, against real servers: test/integration/reliability.test.ts.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { TaskCancelledError } from "cockatiel";
import {
  RETRYABLE_STATUSES,
  UpstreamResilience,
  retryAfterMs,
  type AttemptOutcome,
} from "../../../src/backends/http/resilience.ts";

type Policies = ConstructorParameters<typeof UpstreamResilience>[0];

/** Policies with no backoff wait and a cool-down that never opens, unless overridden. */
function resilience(retry: Partial<Policies["retry"]> = {}, cooldown: Partial<Policies["cooldown"]> = {}) {
  return new UpstreamResilience({
    retry: { attempts: 3, base_delay_ms: 0, max_delay_ms: 0, max_retry_after_ms: 30_000, ...retry },
    cooldown: { failures: 1000, duration_ms: 60_000, ...cooldown },
  });
}

const ok = (value: number): AttemptOutcome<number> => ({ kind: "ok", value });
const failed = (value: number, retryAfterMs?: number, retryable = true): AttemptOutcome<number> => ({
  kind: "failed",
  value,
  retryable,
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});

/** An attempt answering `outcomes` in turn (the last one again when they run out), recording when it was called. */
function scripted(outcomes: AttemptOutcome<number>[]) {
  const calls: number[] = [];
  const attempt = async () => {
    calls.push(performance.now());
    return outcomes[Math.min(calls.length, outcomes.length) - 1] as AttemptOutcome<number>;
  };
  return { attempt, calls, gaps: () => calls.slice(1).map((at, i) => at - (calls[i] as number)) };
}

const NEVER = new AbortController().signal;

/** Spies made by {@link recordDelays}, undone after each test. */
const spies: Array<{ mockRestore(): void }> = [];
afterEach(() => {
  for (const spy of spies.splice(0)) spy.mockRestore();
});

/**
 * Fixes `Math.random` (the jitter) to `random` for the test and records every `setTimeout` (cockatiel's backoff
 * wait). @returns the delays asked for so far.
 */
function recordDelays(random: number) {
  const jitter = spyOn(Math, "random").mockReturnValue(random);
  const timers = spyOn(globalThis, "setTimeout");
  spies.push(jitter, timers);
  return () => timers.mock.calls.map((call) => call[1]);
}

describe("RETRYABLE_STATUSES", () => {
  test("429, 500, 502, 503, 504 and Anthropic's 529; no other status", () => {
    expect([...RETRYABLE_STATUSES].sort()).toEqual([429, 500, 502, 503, 504, 529]);
    for (const status of [400, 401, 403, 404, 408, 409, 413, 422, 501, 505])
      expect(RETRYABLE_STATUSES.has(status)).toBe(false);
  });
});

describe("retryAfterMs", () => {
  const NOW = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

  test("delta-seconds, fractions rounded to the millisecond, surrounding spaces ignored", () => {
    expect(retryAfterMs("0", NOW)).toBe(0);
    expect(retryAfterMs("3", NOW)).toBe(3000);
    expect(retryAfterMs("120", NOW)).toBe(120_000);
    expect(retryAfterMs("1.5", NOW)).toBe(1500);
    expect(retryAfterMs("0.0004", NOW)).toBe(0);
    expect(retryAfterMs(" 7 ", NOW)).toBe(7000);
    for (const malformed of ["-5", "1e3", "0x10", "soon", "5 s"]) expect(retryAfterMs(malformed, NOW)).toBeUndefined();
  });

  test("an HTTP date: the time from now until then; a date in the past is 0", () => {
    expect(retryAfterMs("Wed, 21 Oct 2015 07:28:05 GMT", NOW)).toBe(5000);
    expect(retryAfterMs("Wed, 21 Oct 2015 07:30:00 GMT", NOW)).toBe(120_000);
    expect(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", NOW)).toBe(0);
    expect(retryAfterMs("Tue, 15 Nov 1994 08:12:31 GMT", NOW)).toBe(0);
  });

  test("now defaults to the clock", () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const ms = retryAfterMs(inTenSeconds) as number;
    expect(ms).toBeGreaterThan(8_000);
    expect(ms).toBeLessThanOrEqual(10_000);
  });

  test("absent, empty or unparsable: undefined", () => {
    for (const value of [null, "", "   ", "soon", "5s", "Infinity", "Wed, 99 Foo 2015"]) {
      expect({ value, ms: retryAfterMs(value, NOW) }).toEqual({ value, ms: undefined });
    }
  });
});

describe("retries", () => {
  test("a first success is returned after one attempt", async () => {
    const upstream = scripted([ok(1)]);
    expect(await resilience().run(upstream.attempt, NEVER)).toEqual(ok(1));
    expect(upstream.calls.length).toBe(1);
  });

  test("retryable failures: `attempts` tries in all, then the last failure is returned", async () => {
    const upstream = scripted([failed(1), failed(2), failed(3), ok(4)]);
    expect(await resilience({ attempts: 3 }).run(upstream.attempt, NEVER)).toEqual(failed(3));
    expect(upstream.calls.length).toBe(3);
  });

  test("a success after failures ends the retries", async () => {
    const upstream = scripted([failed(1), failed(2), ok(3)]);
    expect(await resilience({ attempts: 5 }).run(upstream.attempt, NEVER)).toEqual(ok(3));
    expect(upstream.calls.length).toBe(3);
  });

  test("attempts 1: no retry", async () => {
    const upstream = scripted([failed(1), ok(2)]);
    expect(await resilience({ attempts: 1 }).run(upstream.attempt, NEVER)).toEqual(failed(1));
    expect(upstream.calls.length).toBe(1);
  });

  test("a failure that is not retryable is returned at once", async () => {
    const upstream = scripted([failed(1, undefined, false), ok(2)]);
    expect(await resilience({ attempts: 5 }).run(upstream.attempt, NEVER)).toEqual(failed(1, undefined, false));
    expect(upstream.calls.length).toBe(1);
  });

  test("retries stop at the first failure that is not retryable", async () => {
    const upstream = scripted([failed(1), failed(2, 0, false), ok(3)]);
    expect(await resilience({ attempts: 5 }).run(upstream.attempt, NEVER)).toEqual(failed(2, 0, false));
    expect(upstream.calls.length).toBe(2);
  });

  test("what the attempt throws is thrown, without a retry", async () => {
    let calls = 0;
    const attempt = async (): Promise<AttemptOutcome<number>> => {
      calls++;
      throw new Error("bug in the attempt");
    };
    await expect(resilience({ attempts: 5 }).run(attempt, NEVER)).rejects.toThrow("bug in the attempt");
    expect(calls).toBe(1);
  });
});

describe("backoff", () => {
  test("doubles from base_delay_ms up to max_delay_ms (random 1: the whole ceiling), and is waited", async () => {
    const delays = recordDelays(1);
    const upstream = scripted([failed(0)]);
    await resilience({ attempts: 5, base_delay_ms: 10, max_delay_ms: 35 }).run(upstream.attempt, NEVER);
    expect(delays()).toEqual([10, 20, 35, 35]);
    expect(upstream.calls.length).toBe(5);
    const gaps = upstream.gaps();
    for (const [i, delay] of [10, 20, 35, 35].entries()) expect(gaps[i]).toBeGreaterThanOrEqual(delay - 1);
  });

  test("full jitter: a random fraction of the ceiling, rounded", async () => {
    const delays = recordDelays(0.5);
    await resilience({ attempts: 5, base_delay_ms: 10, max_delay_ms: 35 }).run(scripted([failed(0)]).attempt, NEVER);
    expect(delays()).toEqual([5, 10, 18, 18]);
  });

  test("random 0: no wait at all", async () => {
    const delays = recordDelays(0);
    await resilience({ attempts: 3, base_delay_ms: 1000, max_delay_ms: 1000 }).run(
      scripted([failed(0)]).attempt,
      NEVER,
    );
    expect(delays()).toEqual([0, 0]);
  });

  test("a failure's Retry-After replaces the backoff, as sent (even above max_delay_ms)", async () => {
    const delays = recordDelays(1);
    const upstream = scripted([failed(1, 25), failed(2, 0), failed(3), failed(4, 50), ok(5)]);
    const outcome = await resilience({ attempts: 5, base_delay_ms: 10, max_delay_ms: 35 }).run(upstream.attempt, NEVER);
    expect(outcome).toEqual(ok(5));
    // The third failure sent none: the backoff of the third retry (ceiling min(35, 10 × 2²)).
    expect(delays()).toEqual([25, 0, 35, 50]);
    expect(upstream.gaps()[0]).toBeGreaterThanOrEqual(24);
    expect(upstream.gaps()[3]).toBeGreaterThanOrEqual(49);
  });
});

describe("cool-down", () => {
  test("opens after `failures` consecutive failed requests (each after its retries); then not tried", async () => {
    const r = resilience({ attempts: 2 }, { failures: 2, duration_ms: 60_000 });
    const upstream = scripted([failed(1)]);
    expect(r.available()).toBe(true);
    expect(await r.run(upstream.attempt, NEVER)).toEqual(failed(1));
    expect([upstream.calls.length, r.available()]).toEqual([2, true]);
    expect(await r.run(upstream.attempt, NEVER)).toEqual(failed(1));
    expect([upstream.calls.length, r.available()]).toEqual([4, false]);
    expect(await r.run(upstream.attempt, NEVER)).toBe("cooling");
    expect(await r.run(scripted([ok(9)]).attempt, NEVER)).toBe("cooling");
    expect(upstream.calls.length).toBe(4);
  });

  test("failures that are not retryable count too; answers (kind ok) never do", async () => {
    const r = resilience({ attempts: 3 }, { failures: 3 });
    for (let i = 0; i < 10; i++) await r.run(scripted([ok(i)]).attempt, NEVER);
    expect(r.available()).toBe(true);
    for (let i = 0; i < 3; i++) await r.run(scripted([failed(i, undefined, false)]).attempt, NEVER);
    expect(r.available()).toBe(false);
  });

  test("a success in between starts the count again", async () => {
    const r = resilience({ attempts: 1 }, { failures: 2 });
    await r.run(scripted([failed(1)]).attempt, NEVER);
    await r.run(scripted([ok(2)]).attempt, NEVER);
    await r.run(scripted([failed(3)]).attempt, NEVER);
    expect(r.available()).toBe(true);
    await r.run(scripted([failed(4)]).attempt, NEVER);
    expect(r.available()).toBe(false);
  });

  test("after duration_ms one trial request decides: a failure reopens it for another duration", async () => {
    const r = resilience({ attempts: 2 }, { failures: 1, duration_ms: 60 });
    const upstream = scripted([failed(1)]);
    await r.run(upstream.attempt, NEVER);
    expect(r.available()).toBe(false);
    await Bun.sleep(70);
    expect(r.available()).toBe(true);
    // The trial is a whole request, retries included.
    expect(await r.run(upstream.attempt, NEVER)).toEqual(failed(1));
    expect(upstream.calls.length).toBe(4);
    expect(r.available()).toBe(false);
    expect(await r.run(upstream.attempt, NEVER)).toBe("cooling");
    await Bun.sleep(30);
    expect(r.available()).toBe(false);
  });

  test("after duration_ms a successful trial closes it: the count starts from zero", async () => {
    const r = resilience({ attempts: 1 }, { failures: 2, duration_ms: 40 });
    await r.run(scripted([failed(1)]).attempt, NEVER);
    await r.run(scripted([failed(2)]).attempt, NEVER);
    expect(r.available()).toBe(false);
    await Bun.sleep(50);
    const trial = scripted([failed(3), ok(4)]);
    expect(await r.run(trial.attempt, NEVER)).toEqual(failed(3)); // attempts 1: the trial failed → open again
    expect(r.available()).toBe(false);
    await Bun.sleep(50);
    expect(await r.run(scripted([ok(5)]).attempt, NEVER)).toEqual(ok(5));
    expect(r.available()).toBe(true);
    await r.run(scripted([failed(6)]).attempt, NEVER);
    expect(r.available()).toBe(true);
    expect(await r.run(scripted([ok(7)]).attempt, NEVER)).toEqual(ok(7));
  });
});

describe("concurrent requests", () => {
  /** An attempt that answers `outcome` once `gate` is opened. */
  function gated(outcome: AttemptOutcome<number>) {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const attempt = async () => {
      await gate;
      return outcome;
    };
    return { attempt, open };
  }

  test("a success started before a concurrent failure still resets the count", async () => {
    const r = resilience({ attempts: 1 }, { failures: 2 });
    const slow = gated(ok(1));
    const running = r.run(slow.attempt, NEVER);
    await r.run(scripted([failed(2)]).attempt, NEVER); // count 1
    slow.open();
    expect(await running).toEqual(ok(1)); // count 0 again
    await r.run(scripted([failed(3)]).attempt, NEVER);
    expect(r.available()).toBe(true); // 1 failure, not 2
  });

  test("a failure answered while concurrent failures opened the circuit is returned, not 'cooling'", async () => {
    const r = resilience({ attempts: 2 }, { failures: 1 });
    const slow = gated(failed(1));
    const running = r.run(slow.attempt, NEVER);
    const other = scripted([failed(2)]);
    expect(await r.run(other.attempt, NEVER)).toEqual(failed(2));
    expect(r.available()).toBe(false);
    slow.open();
    expect(await running).toEqual(failed(1));
    expect(other.calls.length).toBe(2); // its retry happened while the circuit was closed
  });

  test("a first failure is retried under the policies: `attempts` tries in all, counted once", async () => {
    const r = resilience({ attempts: 3 }, { failures: 2 });
    const upstream = scripted([failed(1), failed(2), failed(3)]);
    expect(await r.run(upstream.attempt, NEVER)).toEqual(failed(3));
    expect(upstream.calls.length).toBe(3);
    expect(r.available()).toBe(true);
  });
});

describe("abort", () => {
  test("an aborted signal: no retry", async () => {
    const controller = new AbortController();
    controller.abort();
    const upstream = scripted([failed(1)]);
    const settled = await resilience({ attempts: 5 })
      .run(upstream.attempt, controller.signal)
      .then(
        (outcome) => outcome,
        (error: unknown) => error,
      );
    expect(upstream.calls.length).toBeLessThanOrEqual(1);
    if (upstream.calls.length === 1) expect(settled).toEqual(failed(1));
  });

  test("an abort during a backoff ends the retries: no further backoff, at most the one attempt in progress", async () => {
    const controller = new AbortController();
    const upstream = scripted([failed(1, 100)]);
    const started = performance.now();
    setTimeout(() => controller.abort(), 10);
    await resilience({ attempts: 5 })
      .run(upstream.attempt, controller.signal)
      .catch(() => undefined);
    expect(upstream.calls.length).toBeLessThanOrEqual(2);
    expect(performance.now() - started).toBeLessThan(4 * 100); // the four backoffs of the retries left
  });

  // BUG (reported): `run` documents cockatiel's TaskCancelledError when the signal aborts during a backoff, but
  // cockatiel 4.0.0's retry loop does not watch the signal while it waits: the whole delay (a Retry-After of up to
  // `max_retry_after_ms`) is waited out, the attempt runs once more with the aborted signal, and its outcome is returned.
  test("an abort during a backoff rejects with TaskCancelledError at once, without another attempt", async () => {
    const controller = new AbortController();
    const upstream = scripted([failed(1, 300)]);
    const started = performance.now();
    setTimeout(() => controller.abort(), 10);
    await expect(resilience({ attempts: 3 }).run(upstream.attempt, controller.signal)).rejects.toBeInstanceOf(
      TaskCancelledError,
    );
    expect(performance.now() - started).toBeLessThan(150);
    expect(upstream.calls.length).toBe(1);
  });
});
