/**
 * The backends the server routes to, changing while it runs (DESIGN §2 "Backends change at runtime"): the config's
 * backends at boot, then whatever enrolment adds and removes. Listeners (the catalog) hear of every change, and of a
 * backend whose model list changed on its own (a local model loaded, an upstream re-probed).
 *
 * Removal never fails a request: the backend leaves the list at once (new requests route elsewhere), the requests it
 * is answering finish — streams included — for up to the grace period, and only then is it closed.
 */
import type { Backend } from "./backend.ts";

/** Milliseconds a removed backend gets to finish what it is answering before it is closed. */
export const REMOVAL_GRACE_MS = 30_000;

/** The live set of backends (see the module comment). */
export class BackendRegistry {
  #backends: readonly Backend[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe = new Map<Backend, () => void>();
  readonly #removing = new Set<Promise<void>>();

  /** @param initial the boot backends, in priority order (the first keeps an id on a clash). */
  constructor(initial: readonly Backend[] = []) {
    for (const backend of initial) this.add(backend);
  }

  /** The backends now, in priority order. The array is replaced on change, never mutated: keep it as a snapshot. */
  list(): readonly Backend[] {
    return this.#backends;
  }

  /** The backend with `id`, if registered. */
  get(id: string): Backend | undefined {
    return this.#backends.find((backend) => backend.id === id);
  }

  /**
   * Adds a backend after the others.
   * @throws Error when a backend with the same id is registered.
   */
  add(backend: Backend): void {
    if (this.get(backend.id)) throw new Error(`backend '${backend.id}' is already registered`);
    this.#backends = [...this.#backends, backend];
    const off = backend.onModelsChanged?.(() => this.#changed());
    if (off) this.#unsubscribe.set(backend, off);
    this.#changed();
  }

  /**
   * Removes a backend: it stops receiving requests now, and is closed once what it is answering has finished or
   * `graceMs` has passed (then what is left is cancelled).
   * @returns false when no backend has `id`; otherwise resolves, true, once the backend is closed.
   */
  async remove(id: string, graceMs = REMOVAL_GRACE_MS): Promise<boolean> {
    const backend = this.get(id);
    if (!backend) return false;
    this.#backends = this.#backends.filter((other) => other !== backend);
    this.#unsubscribe.get(backend)?.();
    this.#unsubscribe.delete(backend);
    this.#changed();
    const closing = retire(backend, graceMs);
    this.#removing.add(closing);
    await closing.finally(() => this.#removing.delete(closing));
    return true;
  }

  /**
   * Calls `listener` after every change of the list or of a backend's models.
   * @returns a function that stops the calls.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes every backend (cancelling what they still run), removed ones still draining included. */
  async close(): Promise<void> {
    const backends = this.#backends;
    this.#backends = [];
    await Promise.all([...backends.map((backend) => backend.close()), ...this.#removing]);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Waits for `backend` to finish its requests (at most `graceMs`), then closes it. */
async function retire(backend: Backend, graceMs: number): Promise<void> {
  if (backend.drain) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([backend.drain(), grace]).finally(() => clearTimeout(timer));
  }
  await backend.close();
}
