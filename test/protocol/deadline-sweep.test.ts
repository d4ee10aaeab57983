/**
 * The shared deadline sweep (src/protocol/deadline-sweep.ts): deadlines fire between their time and one tick later,
 * moved deadlines are honoured, unwatched ones never fire, the timer stops once nothing is watched, and
 * `withDeadline` settles with the work or with the late error.
 */
import { describe, expect, test } from "bun:test";
import { DeadlineSweep, type Expiring, withDeadline } from "../../src/protocol/deadline-sweep.ts";

const TICK_MS = 10;

/** An item whose deadline is `ms` from now and that records when it expired. */
function item(ms: number): Expiring & { firedAt?: number; expiresAt: number } {
  const made: Expiring & { firedAt?: number; expiresAt: number } = {
    expiresAt: performance.now() + ms,
    expire() {
      made.firedAt = performance.now();
    },
  };
  return made;
}

describe("DeadlineSweep", () => {
  test("a deadline fires after its time, within a tick or so, once", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const watched = item(30);
    const due = watched.expiresAt;
    sweep.watch(watched);
    await Bun.sleep(20);
    expect(watched.firedAt).toBeUndefined();
    await Bun.sleep(60);
    expect(watched.firedAt).toBeGreaterThanOrEqual(due);
    // Timers may run late on a loaded machine; the sweep itself adds at most one tick.
    expect(watched.firedAt as number).toBeLessThan(due + 50);
    expect(sweep.size).toBe(0);
  });

  test("a deadline moved later fires at its new time; an unwatched one never", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const moved = item(20);
    const dropped = item(20);
    sweep.watch(moved);
    sweep.watch(dropped);
    moved.expiresAt = performance.now() + 80;
    sweep.unwatch(dropped);
    await Bun.sleep(50);
    expect(moved.firedAt).toBeUndefined();
    await Bun.sleep(80);
    expect(moved.firedAt).toBeDefined();
    expect(dropped.firedAt).toBeUndefined();
  });

  test("an item without a deadline (Infinity) stays watched and quiet", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const idle: Expiring = { expiresAt: Number.POSITIVE_INFINITY, expire: () => expect.unreachable() };
    sweep.watch(idle);
    await Bun.sleep(40);
    expect(sweep.size).toBe(1);
    sweep.unwatch(idle);
    expect(sweep.size).toBe(0);
  });

  test("a throwing handler does not stop the other deadlines", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const bad: Expiring = {
      expiresAt: performance.now(),
      expire() {
        throw new Error("boom");
      },
    };
    const good = item(0);
    sweep.watch(bad);
    sweep.watch(good);
    await Bun.sleep(40);
    expect(good.firedAt).toBeDefined();
  });
});

describe("withDeadline", () => {
  test("settles with the work when it comes first, and leaves nothing watched", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const value = await withDeadline(
      Bun.sleep(5).then(() => 42),
      200,
      () => new Error("late"),
      sweep,
    );
    expect(value).toBe(42);
    expect(sweep.size).toBe(0);
    await expect(withDeadline(Promise.reject(new Error("own")), 200, () => new Error("late"), sweep)).rejects.toThrow(
      "own",
    );
    expect(sweep.size).toBe(0);
  });

  test("rejects with the late error when the work is slower than the deadline", async () => {
    const sweep = new DeadlineSweep(TICK_MS);
    const started = performance.now();
    const never = new Promise<never>(() => {});
    await expect(withDeadline(never, 30, () => new Error("too slow"), sweep)).rejects.toThrow("too slow");
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(sweep.size).toBe(0);
  });
});
