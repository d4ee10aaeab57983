/** Small Preact hooks of the dashboard: polling the API, a ticking clock, an action with its busy and error states. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** What {@link usePoll} gives. */
export interface Polled<T> {
  /** The latest answer (kept while a refresh runs or after a failed one). */
  data: T | undefined;
  /** The latest failure, cleared by the next success. */
  error: Error | undefined;
  /** Loads again now. */
  reload: () => Promise<void>;
}

/**
 * Loads `load()` now and every `intervalMs` while the tab is visible (0: once), again when `deps` change.
 * A slow answer never overlaps the next poll; answers of an earlier `deps` are dropped.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, deps: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const reload = useCallback(async () => {
    const mine = generation.current;
    try {
      const value = await loader.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (caught) {
      if (mine !== generation.current) return;
      setError(caught instanceof Error ? caught : new Error(String(caught)));
    }
  }, []);

  useEffect(() => {
    generation.current++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      if (document.visibilityState !== "hidden") await reload();
      if (!stopped && intervalMs > 0) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);

  return { data, error, reload };
}

/** The current time in ms, updated every `intervalMs`. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** What {@link useAction} gives. */
export interface Action<A extends unknown[]> {
  run: (...args: A) => Promise<void>;
  busy: boolean;
  error: Error | undefined;
  clearError: () => void;
}

/** Runs `action` with a busy flag (one at a time) and keeps its failure to show. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const current = useRef(action);
  current.current = action;
  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(undefined);
    try {
      await current.current(...args);
    } catch (caught) {
      setError(caught instanceof Error ? caught : new Error(String(caught)));
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, busy, error, clearError: () => setError(undefined) };
}
