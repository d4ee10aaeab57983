/**
 * The request log's writer: rows are queued in memory by {@link RequestLog.add} (nothing else happens on the request
 * path) and written in one transaction every `flush_ms`, or as soon as `batch_rows` wait, by a timer that never keeps
 * the process alive. Retention (`max_age_days`, `max_rows`) is applied at start and then at most once a minute, after
 * a write. Readers call {@link RequestLog.flush} first so that what they read includes every request that ended.
 *
 * A write that fails (disk full, database locked past the busy timeout) drops its batch with one warning: the log is
 * an account of traffic, never a reason to fail or slow a request.
 */
import type { RequestRow, RequestTable } from "./requests.ts";

/** The `request_log` section of the config (src/config/schema.ts). */
export interface RequestLogOptions {
  enabled: boolean;
  /** Days a row is kept; 0: no age bound. */
  max_age_days: number;
  /** Rows kept at most; 0: no row bound. */
  max_rows: number;
  /** Longest a row waits in memory, in ms. */
  flush_ms: number;
  /** Rows that trigger a write without waiting for `flush_ms`. */
  batch_rows: number;
}

/** How often retention runs at most, in ms. */
export const PRUNE_EVERY_MS = 60_000;

const DAY_MS = 86_400_000;

/** Queues rows and writes them in batches (see the module comment). */
export class RequestLog {
  private queue: RequestRow[] = [];
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private flushSoon = false;
  private lastPrune = 0;
  private closed = false;

  constructor(
    private readonly table: RequestTable,
    private readonly options: RequestLogOptions,
  ) {
    if (!options.enabled) return;
    this.prune();
    this.timer = setInterval(() => this.flush(), options.flush_ms);
    this.timer.unref?.();
  }

  /** Whether rows are recorded. */
  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Queues a row (written within `flush_ms`); nothing when the log is disabled or closed. */
  add(row: RequestRow): void {
    if (!this.options.enabled || this.closed) return;
    this.queue.push(row);
    if (this.queue.length >= this.options.batch_rows && !this.flushSoon) {
      this.flushSoon = true;
      setImmediate(() => this.flush());
    }
  }

  /** Rows queued and not yet written. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Writes the queued rows now, in one transaction, then applies retention when it is due.
   * @returns how many rows were written (0 when the write failed: the batch is dropped with a warning).
   */
  flush(): number {
    this.flushSoon = false;
    if (this.queue.length === 0) return 0;
    const rows = this.queue;
    this.queue = [];
    try {
      this.table.insert(rows);
    } catch (error) {
      console.warn(`[ithaca] request log: ${rows.length} rows dropped: ${(error as Error).message}`);
      return 0;
    }
    if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) this.prune();
    return rows.length;
  }

  /** Applies retention now: rows past `max_age_days`, then all but the newest `max_rows`. */
  prune(): void {
    this.lastPrune = Date.now();
    const { max_age_days, max_rows } = this.options;
    try {
      this.table.prune(max_age_days > 0 ? this.lastPrune - max_age_days * DAY_MS : 0, max_rows);
    } catch (error) {
      console.warn(`[ithaca] request log: retention failed: ${(error as Error).message}`);
    }
  }

  /** Writes what is queued and stops the timer; later rows are ignored. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
  }
}
