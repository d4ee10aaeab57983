/** The TTL cache behind upstream discovery: fresh, stale-while-reloading, shared loads, failure fallback. */
import { describe, expect, test } from "bun:test";
import { TtlCache } from "../../src/backends/ttl-cache.ts";

describe("TtlCache", () => {
  test("loads once, serves fresh values, reloads in the background when stale", async () => {
    let loads = 0;
    const cache = new TtlCache({ load: async () => ++loads, fallback: 0, ttlMs: 30, retryMs: 10 });
    expect(await Promise.all([cache.get(), cache.get()])).toEqual([1, 1]); // one shared load
    expect(await cache.get()).toBe(1);
    await Bun.sleep(40);
    expect(await cache.get()).toBe(1); // stale: served at once, reload started
    await Bun.sleep(1);
    expect(await cache.get()).toBe(2);
    cache.invalidate();
    expect(await cache.get()).toBe(2);
    await Bun.sleep(1);
    expect(await cache.get()).toBe(3);
  });

  test("a failed load serves the fallback, reports the error, and retries after retryMs", async () => {
    const errors: unknown[] = [];
    let fail = true;
    const cache = new TtlCache({
      load: async () => {
        if (fail) throw new Error("down");
        return ["m"];
      },
      fallback: [] as string[],
      ttlMs: 60_000,
      retryMs: 20,
      onError: (error) => errors.push(error),
    });
    expect(await cache.get()).toEqual([]);
    expect(errors).toHaveLength(1);
    fail = false;
    expect(await cache.get()).toEqual([]); // still within retryMs
    await Bun.sleep(25);
    await cache.get(); // stale: triggers the retry
    await Bun.sleep(1);
    expect(await cache.get()).toEqual(["m"]);
  });
});
