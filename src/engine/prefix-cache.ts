/**
 * The prefix cache of one loaded model (issue 5; reference/odyssai-x-wire.md §5): KV caches of finished requests,
 * kept so that the next request sharing their first tokens prefills only the rest.
 *
 * - **Caller scopes** (`cache_scope`: `open`, `admin`, `key:<hex>` per API key): every entry belongs to the caller
 *   scope of the request that stored it, and only requests of that scope ever reuse it. Session entries are keyed by
 *   (caller scope, session id), so two callers sending the same `session_id` never share, and the shared-prefix
 *   index seeds its hash chain with the caller scope. A hit — and so `cached_tokens` — can therefore never tell one
 *   caller anything about another caller's prompts.
 * - **Session entries** (`session_id`): the conversation's tokens (prompt + generated) and its KV cache, scoped by the
 *   template options that change tokens (`enable_thinking`, `reasoning_effort`, tools). The next request of the
 *   session takes the entry over, rewinds it to the longest common token prefix (an edit, a regeneration or a branch
 *   diverges before the end) and prefills the rest. An entry whose scope differs is not the session's any more; it
 *   stays available as a shared prefix.
 * - **Shared prefixes** (`shared`): every entry is indexed by a hash chain over its full blocks of `block_size`
 *   tokens, as vLLM's automatic prefix caching (block hashes chained through the previous block's hash). A request
 *   whose prompt shares at least one block with an entry of its caller scope starts from the longest such prefix: it
 *   copies the prefix (an entry of another session is never disturbed), or takes over an unowned entry that it
 *   extends entirely. Requests without a `session_id` are stored as unowned entries, so an agent that resends its
 *   history hits too; an unowned entry whose tokens a newer entry of the same caller scope starts with is dropped as
 *   redundant.
 * - **Bounded memory** (`lru-cache`): least recently stored entries go first once `max_bytes` (buffer capacity) or
 *   `max_entries` is exceeded; entries expire after `ttl_s`. Evicting an entry frees its arrays. The owner clears the
 *   cache when the model unloads.
 *
 * At most `prompt.length - 1` tokens are reused: the last prompt token always runs through the model, since its
 * logits choose the first generated token (a resent prompt rewinds by one instead of starting over).
 */
import { LRUCache } from "lru-cache";
import { cachesArrays, cachesBytes, freeCaches, KVCache, makeCaches } from "./kv-cache.ts";

/** Limits and switches (config `engine.prefix_cache`). */
export interface PrefixCacheOptions {
  /** Off: every request prefills its whole prompt and nothing is kept. */
  enabled: boolean;
  /** Reuse prefixes across sessions and for requests without `session_id`. */
  shared: boolean;
  /** Budget of the kept KV caches in bytes (buffer capacity), per loaded model. */
  maxBytes: number;
  /** Entries kept at most (sessions and shared prefixes together). */
  maxEntries: number;
  /** Seconds an entry lives after it was stored; 0 = no expiry. */
  ttlS: number;
  /** Tokens per hashed block of the shared-prefix index; a shared reuse covers at least one block. */
  blockSize: number;
}

/** The caller scope of requests that name none (open mode). */
export const OPEN_CACHE_SCOPE = "open";

/** One kept KV cache, as `GET /admin/sessions` lists it. */
export interface PrefixCacheEntryInfo {
  /** The session, or null for an unowned shared prefix. */
  session_id: string | null;
  /** The caller scope the entry belongs to (`open`, `admin`, `key:<hex>`); only its requests reuse it. */
  cache_scope: string;
  /** Hash of the template options the tokens were rendered with. */
  scope: string;
  /** Tokens whose keys and values are cached. */
  tokens: number;
  /** Buffer bytes held. */
  bytes: number;
  /** When it was last stored (ms since the epoch). */
  last_use: number;
}

/** Totals for the engine's stats. */
export interface PrefixCacheStats {
  entries: number;
  sessions: number;
  bytes: number;
  /** MLX arrays held (the leak checks subtract them). */
  arrays: number;
  /** Requests that reused a session's own cache / a shared prefix / nothing. */
  hits: { session: number; shared: number; cold: number };
}

/** Whose a request's tokens are: only requests of the same caller scope (and session) reuse them. */
export interface CacheOwner {
  /** The caller scope (`open`, `admin`, `key:<hex>`; see {@link OPEN_CACHE_SCOPE}). */
  cacheScope: string;
  /** The conversation, if the request names one. */
  sessionId?: string;
}

/** What a request starts from. */
export interface PrefixReuse {
  /** One cache per layer, holding `cached` positions; the request owns them now. */
  caches: KVCache[];
  /** Prompt tokens already in `caches` (reported as `cached_tokens`). */
  cached: number;
  source: "session" | "shared" | "cold";
}

interface Entry extends CacheOwner {
  scope: string;
  tokens: number[];
  caches: KVCache[];
  nbytes: number;
  lastUse: number;
  /** Hashes of the full blocks of `tokens`, in order. */
  blocks: bigint[];
  /** Taken over by a request: removal must not free its caches. */
  taken?: boolean;
}

/** Length of the longest common prefix of `a` and `b`. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Chained hashes of the full `blockSize` blocks of `tokens` (wyhash, seeded with the previous block's hash; the first
 * block with the hash of `cacheScope`, so that equal tokens of two caller scopes hash differently; the cache still
 * checks an entry's caller scope, against collisions).
 */
export function blockHashes(tokens: readonly number[], blockSize: number, cacheScope = OPEN_CACHE_SCOPE): bigint[] {
  const hashes: bigint[] = [];
  let previous = BigInt(Bun.hash.wyhash(cacheScope));
  for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
    previous = BigInt(Bun.hash.wyhash(Int32Array.from(tokens.slice(start, start + blockSize)), previous));
    hashes.push(previous);
  }
  return hashes;
}

export class PrefixCache {
  readonly options: PrefixCacheOptions;
  readonly #entries: LRUCache<string, Entry>;
  /** Block hash → keys of the entries containing that block (at that depth). */
  readonly #index = new Map<bigint, Set<string>>();
  readonly #hits = { session: 0, shared: 0, cold: 0 };
  #nextUnowned = 0;

  /** @param options every switch and limit (their defaults live in the config schema, `engine.prefix_cache`). */
  constructor(options: PrefixCacheOptions) {
    this.options = { ...options };
    const { maxBytes, maxEntries, ttlS } = this.options;
    this.#entries = new LRUCache<string, Entry>({
      max: Math.max(1, maxEntries),
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (entry) => Math.max(1, entry.nbytes),
      ttl: ttlS > 0 ? ttlS * 1000 : undefined,
      ttlAutopurge: ttlS > 0,
      dispose: (entry, key) => this.#forget(key, entry),
    });
  }

  /**
   * Finds where a request can start: its session's own entry rewound to the common prefix, or the longest shared
   * prefix of its caller scope, whichever reuses more; else fresh caches. Entries of other caller scopes are never
   * looked at.
   * @param prompt the full prompt token ids (at least one)
   * @param scope the template options that shaped `prompt` (see {@link scopeOf})
   * @param owner the request's caller scope and session
   * @param numLayers caches to make when nothing is reused
   */
  acquire(prompt: readonly number[], scope: string, owner: CacheOwner, numLayers: number): PrefixReuse {
    const limit = Math.max(0, prompt.length - 1);
    if (this.options.enabled && limit > 0) {
      const own = owner.sessionId === undefined ? undefined : this.#ownEntry(owner, scope);
      const ownLength = own ? Math.min(limit, commonPrefixLength(own.tokens, prompt)) : 0;
      const shared = this.options.shared ? this.#longestShared(prompt, owner.cacheScope, limit) : undefined;
      if (own && ownLength > 0 && ownLength >= (shared?.length ?? 0)) {
        return this.#count({
          caches: this.#take(sessionKey(own), own, ownLength),
          cached: ownLength,
          source: "session",
        });
      }
      if (shared) {
        const { key, entry, length } = shared;
        const caches =
          entry.sessionId === undefined && length === entry.tokens.length
            ? this.#take(key, entry, length)
            : entry.caches.map((cache) => KVCache.prefixOf(cache, length));
        return this.#count({ caches, cached: length, source: "shared" });
      }
    }
    return this.#count({ caches: makeCaches(numLayers), cached: 0, source: "cold" });
  }

  /**
   * Keeps a finished request's caches (or frees them when the cache is off, they hold nothing, or they exceed the
   * budget on their own). The request gives up ownership either way.
   * @param tokens the tokens fed to the model, in order (prompt, then generated); only the first `caches[0].offset`
   *   are in the cache
   * @param scope the template options that shaped the tokens (see {@link scopeOf})
   * @param owner the request's caller scope and session: the entry is theirs
   */
  release(tokens: readonly number[], caches: KVCache[], scope: string, owner: CacheOwner): void {
    const { cacheScope, sessionId } = owner;
    const cached = caches[0]?.offset ?? 0;
    const nbytes = cachesBytes(caches);
    const keep =
      this.options.enabled &&
      cached > 0 &&
      nbytes <= this.options.maxBytes &&
      (sessionId !== undefined || this.options.shared);
    if (!keep) {
      freeCaches(caches);
      return;
    }
    const kept = tokens.slice(0, cached);
    this.#dropCovered(kept, cacheScope);
    const key = sessionId === undefined ? `prefix:${this.#nextUnowned++}` : sessionKey(owner);
    const entry: Entry = {
      cacheScope,
      sessionId,
      scope,
      tokens: kept,
      caches,
      nbytes,
      lastUse: Date.now(),
      blocks: [],
    };
    this.#entries.set(key, entry);
    if (this.#entries.get(key, { updateAgeOnGet: false }) !== entry) {
      freeCaches(caches); // not stored (lru-cache refused it)
      return;
    }
    if (this.options.shared) {
      entry.blocks = blockHashes(kept, this.options.blockSize, cacheScope);
      for (const hash of entry.blocks) {
        let keys = this.#index.get(hash);
        if (!keys) {
          keys = new Set();
          this.#index.set(hash, keys);
        }
        keys.add(key);
      }
    }
  }

  /** Every kept entry, most recently stored first. */
  list(): PrefixCacheEntryInfo[] {
    return [...this.#entries.values()].map((entry) => ({
      session_id: entry.sessionId ?? null,
      cache_scope: entry.cacheScope,
      scope: entry.scope,
      tokens: entry.tokens.length,
      bytes: entry.nbytes,
      last_use: entry.lastUse,
    }));
  }

  /**
   * Drops the entries of one session id (in every caller scope), or every entry, freeing their arrays.
   * @returns how many entries were dropped
   */
  clear(sessionId?: string): number {
    if (sessionId === undefined) {
      const n = this.#entries.size;
      this.#entries.clear();
      return n;
    }
    const keys = [...this.#entries.entries()].flatMap(([key, entry]) => (entry.sessionId === sessionId ? [key] : []));
    for (const key of keys) this.#entries.delete(key);
    return keys.length;
  }

  /** Stats of a cache holding nothing. */
  static emptyStats(): PrefixCacheStats {
    return { entries: 0, sessions: 0, bytes: 0, arrays: 0, hits: { session: 0, shared: 0, cold: 0 } };
  }

  stats(): PrefixCacheStats {
    let bytes = 0;
    let arrays = 0;
    let sessions = 0;
    for (const entry of this.#entries.values()) {
      bytes += entry.nbytes;
      arrays += cachesArrays(entry.caches);
      if (entry.sessionId !== undefined) sessions++;
    }
    return { entries: this.#entries.size, sessions, bytes, arrays, hits: { ...this.#hits } };
  }

  /**
   * The session's entry (of the owner's caller scope) when its template scope matches; an entry of another template
   * scope becomes a shared prefix of the same caller scope (or goes).
   */
  #ownEntry(owner: CacheOwner, scope: string): Entry | undefined {
    const key = sessionKey(owner);
    const entry = this.#entries.get(key, { updateAgeOnGet: false });
    if (!entry || entry.scope === scope) return entry;
    if (!this.options.shared) {
      this.#entries.delete(key);
      return undefined;
    }
    entry.taken = true; // re-keyed below, not freed
    this.#entries.delete(key);
    entry.taken = false;
    this.release(entry.tokens, entry.caches, entry.scope, { cacheScope: entry.cacheScope });
    return undefined;
  }

  /**
   * The entry of caller scope `cacheScope` sharing the most leading tokens with `prompt` (at least one full block),
   * through the block index.
   */
  #longestShared(
    prompt: readonly number[],
    cacheScope: string,
    limit: number,
  ): { key: string; entry: Entry; length: number } | undefined {
    let deepest: Set<string> | undefined;
    for (const hash of blockHashes(prompt, this.options.blockSize, cacheScope)) {
      const keys = this.#index.get(hash);
      if (!keys) break;
      deepest = keys;
    }
    let best: { key: string; entry: Entry; length: number } | undefined;
    for (const key of deepest ?? []) {
      const entry = this.#entries.get(key, { updateAgeOnGet: false });
      if (entry?.cacheScope !== cacheScope) continue; // gone, or a hash collision across caller scopes
      const length = Math.min(limit, commonPrefixLength(entry.tokens, prompt));
      if (!best || length > best.length) best = { key, entry, length };
    }
    return best && best.length > 0 ? best : undefined;
  }

  /**
   * Drops the unowned entries of caller scope `cacheScope` whose tokens are a prefix of `tokens`: an entry holding
   * `tokens` serves all they could (other caller scopes' entries are theirs alone, and stay).
   */
  #dropCovered(tokens: readonly number[], cacheScope: string): void {
    for (const [key, entry] of this.#entries.entries()) {
      if (entry.sessionId !== undefined || entry.cacheScope !== cacheScope) continue;
      const covered =
        entry.tokens.length <= tokens.length && commonPrefixLength(entry.tokens, tokens) === entry.tokens.length;
      if (covered) this.#entries.delete(key);
    }
  }

  /** Removes `entry` without freeing it and rewinds its caches to `length` positions; the caller owns them. */
  #take(key: string, entry: Entry, length: number): KVCache[] {
    entry.taken = true;
    this.#entries.delete(key);
    for (const cache of entry.caches) cache.trim(cache.offset - length);
    return entry.caches;
  }

  #forget(key: string, entry: Entry): void {
    for (const hash of entry.blocks) {
      const keys = this.#index.get(hash);
      keys?.delete(key);
      if (keys?.size === 0) this.#index.delete(hash);
    }
    if (!entry.taken) freeCaches(entry.caches);
  }

  #count(reuse: PrefixReuse): PrefixReuse {
    this.#hits[reuse.source]++;
    return reuse;
  }
}

/** The key of a session's entry: caller scope and session id together (JSON, so no pair aliases another). */
const sessionKey = (owner: CacheOwner) => `session:${JSON.stringify([owner.cacheScope, owner.sessionId])}`;

/**
 * The scope of a request's tokens: a short hash of the template options that change them (`enable_thinking`,
 * `reasoning_effort`, tools).
 */
export function scopeOf(options: { enable_thinking?: boolean; reasoning_effort?: string; tools?: unknown[] }): string {
  const key = JSON.stringify([
    options.enable_thinking ?? null,
    options.reasoning_effort ?? null,
    options.tools ?? null,
  ]);
  return Bun.hash.wyhash(key).toString(16).padStart(16, "0");
}
