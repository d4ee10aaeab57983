/**
 * Deadlines checked by one coarse timer instead of a timer each. A request-path deadline (a body read, an upstream
 * exchange) is armed and disarmed once or more per request and almost never fires: with a timer each, every request
 * pays to schedule and cancel one (two native calls and a timer object); here it pays a set insertion and deletion,
 * and moving a deadline is a field write.
 *
 * A deadline fires between its time and one tick later ({@link SWEEP_TICK_MS}). The timer runs while anything is
 * watched, is stopped by the first sweep that finds nothing, and never keeps the process alive.
 */

/** How often watched deadlines are looked at, in ms: the most a deadline fires late. */
export const SWEEP_TICK_MS = 20;

/** Something with a deadline: `expiresAt` (`performance.now()` ms; `Infinity` while none runs) and what to do then. */
export interface Expiring {
  readonly expiresAt: number;
  /** Called once, by the first sweep at or after `expiresAt`; the item is then no longer watched. */
  expire(): void;
}

/** The watched deadlines of one process (see the module comment). */
export class DeadlineSweep {
  private readonly watched = new Set<Expiring>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly tickMs = SWEEP_TICK_MS) {}

  /** Starts watching `item`'s deadline (its `expiresAt`, read at every sweep, may move meanwhile). */
  watch(item: Expiring): void {
    this.watched.add(item);
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), this.tickMs);
    this.timer.unref?.();
  }

  /** Stops watching `item`; nothing happens when it is not watched. */
  unwatch(item: Expiring): void {
    this.watched.delete(item);
  }

  /** Items watched now. */
  get size(): number {
    return this.watched.size;
  }

  private sweep(): void {
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = performance.now();
    for (const item of this.watched) {
      if (item.expiresAt > now) continue;
      this.watched.delete(item);
      try {
        item.expire();
      } catch (error) {
        console.warn(`[ithaca] a deadline handler failed: ${(error as Error).message}`);
      }
    }
  }
}

/** The sweep the request path shares. */
export const deadlines: DeadlineSweep = new DeadlineSweep();

/**
 * `work`, or a rejection with `late()` when it has not settled within `ms` (swept: up to {@link SWEEP_TICK_MS} more).
 * The loser is left to settle unobserved.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error, sweep = deadlines): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watched: Expiring = { expiresAt: performance.now() + ms, expire: () => reject(late()) };
    sweep.watch(watched);
    work.then(
      (value) => {
        sweep.unwatch(watched);
        resolve(value);
      },
      (error) => {
        sweep.unwatch(watched);
        reject(error);
      },
    );
  });
}
