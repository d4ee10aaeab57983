/**
 * The idle sweep (`engine.idle_ttl_s` > 0): a loaded model with no request in flight for that long is unloaded. A
 * timer checks every `idle_ttl_s / 2` seconds, clamped to 100 ms – 1 s; it does not keep the process alive.
 */
import type { Slot } from "./slots.ts";

/** What the sweep reads and acts on: the registry's slots, the last use of each model, the unload. */
export interface IdleSweepTarget {
  /** The models with a Worker, by id. */
  slots: ReadonlyMap<string, Slot>;
  /** When a model was last used, in Unix milliseconds. */
  lastUsedAt(id: string): number | undefined;
  /** Unloads a model (a failure is logged). */
  unload(id: string): Promise<unknown>;
}

/**
 * Starts the sweep.
 * @param idleTtlS seconds without a request in flight after which a loaded model is unloaded; 0: never
 * @returns a function that stops the sweep; undefined when `idleTtlS` is 0 (nothing started)
 */
export function startIdleSweep(idleTtlS: number, target: IdleSweepTarget): (() => void) | undefined {
  if (idleTtlS <= 0) return undefined;
  const every = Math.min(1000, Math.max(100, (idleTtlS * 1000) / 2));
  const timer = setInterval(() => sweepIdle(idleTtlS * 1000, target), every);
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * Unloads the loaded models of `target` idle (no lease, no generation in the Worker) for at least `ttlMs`
 * milliseconds since their last use (or their load).
 */
export function sweepIdle(ttlMs: number, target: IdleSweepTarget): void {
  const now = Date.now();
  for (const [id, slot] of target.slots) {
    if (slot.state !== "loaded" || slot.active > 0 || (slot.engine?.inFlight ?? 0) > 0) continue;
    const idleMs = now - (target.lastUsedAt(id) ?? slot.loadedAt ?? now);
    if (idleMs < ttlMs) continue;
    console.log(`[ithaca] unloading '${id}': idle for ${Math.round(idleMs / 1000)} s`);
    void target.unload(id).catch((error) => console.warn(`[ithaca] unloading '${id}' failed:`, error));
  }
}
