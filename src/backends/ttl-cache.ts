/**
 * A single cached value with a time to live, for upstream probes (model lists, capability contracts).
 *
 * - Fresh value: returned as is.
 * - Stale value: returned at once while one background reload runs (a request never waits on a probe it does not
 *   need).
 * - No value yet: the caller waits for the (shared) load.
 * - A failed load stores `fallback` and retries after `retryMs` instead of `ttlMs` (re-probe on failure).
 */
export interface TtlCacheOptions<T> {
  /** Loads the value; a rejection counts as a failure. */
  load: () => Promise<T>;
  /** Value served after a failed load. */
  fallback: T;
  /** How long a successful load stays fresh, in milliseconds. */
  ttlMs: number;
  /** How long a failed load's fallback stays fresh, in milliseconds. */
  retryMs: number;
  /** Told about each failure (for a log line). */
  onError?: (error: unknown) => void;
  /** Told after each load, successful or not, once its value is stored. */
  onLoad?: () => void;
}

export class TtlCache<T> {
  private entry: { value: T; expiresAt: number } | undefined;
  private inFlight: Promise<T> | undefined;

  constructor(private readonly options: TtlCacheOptions<T>) {}

  /** The cached value, reloading as described above. */
  async get(): Promise<T> {
    const entry = this.entry;
    if (entry && Date.now() < entry.expiresAt) return entry.value;
    const reload = this.reload();
    return entry ? entry.value : reload;
  }

  /** The value held now, fresh or stale, without loading anything; undefined before the first load. */
  peek(): T | undefined {
    return this.entry?.value;
  }

  /** Reloads the value now and resolves with it (e.g. after the upstream was told to load a model). */
  refresh(): Promise<T> {
    this.invalidate();
    return this.reload();
  }

  /** Marks the value stale: the next {@link get} reloads it (e.g. after a request to the upstream failed). */
  invalidate(): void {
    if (this.entry) this.entry.expiresAt = 0;
  }

  private reload(): Promise<T> {
    this.inFlight ??= this.options
      .load()
      .then(
        (value) => this.store(value, this.options.ttlMs),
        (error: unknown) => {
          this.options.onError?.(error);
          return this.store(this.options.fallback, this.options.retryMs);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private store(value: T, ttlMs: number): T {
    this.entry = { value, expiresAt: Date.now() + ttlMs };
    this.options.onLoad?.();
    return value;
  }
}
