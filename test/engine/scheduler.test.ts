/**
 * The scheduler's admission, with a recording batch in place of the model (the batching itself is covered with real
 * models in concurrency.test.ts and batching.test.ts): requests that arrive together while the batch is empty start in
 * the same step (the grouping window), and a lone request still starts.
 */
import { expect, test } from "bun:test";
import type { BatchGenerator } from "../../src/engine/batch-generator.ts";
import type { Generation, GenerationOutcome } from "../../src/engine/generation.ts";
import { GROUPING_WINDOW_MS, Scheduler } from "../../src/engine/scheduler.ts";

/** A generation that ends after `steps` steps of the batch. */
function fakeGeneration(id: number, steps: number, log: string[]): Generation {
  let left = steps;
  const g = {
    id,
    cancelled: false,
    get ended() {
      return left <= 0;
    },
    outcome: { id } as unknown as GenerationOutcome,
    start: () => true,
    enter: () => ({ prompt: [1, 2, 3], caches: [] }),
    step: () => {
      left--;
      if (left === 0) log.push(`end ${id}`);
    },
    cancel() {},
    abort() {},
  };
  return g as unknown as Generation;
}

/** A batch that records which requests each step ran with. */
function recordingBatch(log: string[]) {
  const rows = new Map<number, Generation & { step(): void }>();
  return {
    get size() {
      return rows.size;
    },
    insert(id: number, g: Generation & { step(): void }) {
      rows.set(id, g);
    },
    remove(id: number) {
      rows.delete(id);
    },
    clear() {
      const all = [...rows.values()];
      rows.clear();
      return all;
    },
    next() {
      log.push(`step [${[...rows.keys()].join(",")}]`);
      for (const [id, g] of rows) {
        g.step();
        if (g.ended) rows.delete(id);
      }
    },
  } as unknown as BatchGenerator;
}

test("requests arriving together start in one step; a lone request starts alone", async () => {
  expect(GROUPING_WINDOW_MS).toBeGreaterThan(0);
  const log: string[] = [];
  const finished: number[] = [];
  const steps: Record<number, number> = { 1: 3, 2: 3, 3: 1 };
  const scheduler = new Scheduler(
    4,
    {
      create: (id) => fakeGeneration(id, steps[id] ?? 1, log),
      cancelledWhileWaiting: () => {},
      finished: (outcome) => finished.push((outcome as unknown as { id: number }).id),
    },
    recordingBatch(log),
  );
  scheduler.enqueue(1);
  scheduler.kick();
  // The second request reaches the Worker one event-loop turn later, as an HTTP request parsed just after the first.
  await new Promise((resolve) => setImmediate(resolve));
  scheduler.enqueue(2);
  scheduler.kick();
  while (finished.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(log.slice(0, 3)).toEqual(["step [1,2]", "step [1,2]", "step [1,2]"]);
  expect(finished.sort()).toEqual([1, 2]);

  // The batch is empty again: a lone request starts alone, once the window has passed.
  scheduler.enqueue(3);
  scheduler.kick();
  while (finished.length < 3) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(log.at(-2)).toBe("step [3]");
});
