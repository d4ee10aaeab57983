/**
 * API keys issued while Ithaca runs (`/admin/keys`; issue 13 item 2), as LiteLLM, Bifrost and Portkey issue them:
 * each with a name, the models it may use, limits (requests and tokens per minute, requests at once) and an expiry.
 * A key (`sk-ith-…`) is shown once, when it is created or rotated; only its SHA-256 digest is stored, with a preview.
 * Keys are verified from an in-memory index of digests (no database read per request), rebuilt on every change.
 *
 * Model patterns are case-insensitive globs over catalog ids (`studio:*`, `qwen3-*`); `*` alone is every model and an
 * empty list none.
 */
import { randomBytes } from "node:crypto";
import { OpenAIError } from "../protocol/errors.ts";
import type { ApiKeyRecord, ApiKeyTable } from "../store/api-keys.ts";
import { secretDigest } from "./secret-digest.ts";

/** Every issued key starts with this. */
export const API_KEY_PREFIX = "sk-ith-";

/** What creating or changing a key sets. */
export interface KeyInput {
  name: string;
  /** Model id patterns; default `["*"]`. */
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  max_concurrent?: number | null;
  /** ISO 8601, or null for never. */
  expires_at?: string | null;
}

/** A key as the admin API shows it: never the key, only a preview. */
export interface KeyView {
  id: string;
  name: string;
  key_preview: string;
  models: string[];
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  expires_at: string | null;
  expired: boolean;
  created_at: string;
  updated_at: string;
}

/** A key as a request carries it: who, what it may use, within which limits. */
export interface IssuedKey {
  id: string;
  /** Whether the key may use the model of this catalog id (or alias, as asked). */
  allows(modelId: string): boolean;
  rpm: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The test of a key's model patterns (see the module comment). */
function modelTest(patterns: readonly string[]): (modelId: string) => boolean {
  if (patterns.includes("*")) return () => true;
  const globs = patterns.map((pattern) => new Bun.Glob(pattern.toLowerCase()));
  return (modelId) => {
    const id = modelId.toLowerCase();
    return globs.some((glob) => glob.match(id));
  };
}

/** The issued keys (see the module comment). */
export class ApiKeys {
  /** Digest (hex) → the key and its expiry. */
  private index = new Map<string, { key: IssuedKey; expiresAt: number | null }>();
  /** Key id → the key. */
  private byId = new Map<string, IssuedKey>();

  constructor(
    private readonly table: ApiKeyTable,
    private readonly now: () => number = Date.now,
  ) {
    this.reindex();
  }

  /** How many keys are issued (any: `/v1/*` needs a key). */
  get count(): number {
    return this.index.size;
  }

  /**
   * The key a secret is: the issued key, `"expired"`, or undefined when no issued key has this digest.
   * @param secret what the request presented (`sk-ith-…`).
   */
  verify(secret: string): IssuedKey | "expired" | undefined {
    const found = this.index.get(secretDigest(secret).toString("hex"));
    if (!found) return undefined;
    return found.expiresAt !== null && found.expiresAt <= this.now() ? "expired" : found.key;
  }

  /** The issued key of this id, as requests carry it (expired or not), or undefined. */
  issued(id: string): IssuedKey | undefined {
    return this.byId.get(id);
  }

  list(): KeyView[] {
    return this.table.list().map((record) => this.view(record));
  }

  /** @throws OpenAIError 404 `key_not_found`. */
  get(id: string): KeyView {
    return this.view(this.record(id));
  }

  /** Issues a key. @returns the key (shown this once) and its view. */
  create(input: KeyInput): { key: string; view: KeyView } {
    const id = `key-${randomBytes(6).toString("hex")}`;
    return this.issue(
      id,
      { name: input.name, models: ["*"], rpm: null, tpm: null, maxConcurrent: null, expiresAt: null },
      input,
    );
  }

  /**
   * Changes a key's name, models, limits or expiry (the key itself stays).
   * @throws OpenAIError 404 `key_not_found`.
   */
  update(id: string, patch: Partial<KeyInput>): KeyView {
    const record = this.record(id);
    const saved = this.table.put({ ...record, ...fields(patch, record) });
    this.reindex();
    return this.view(saved);
  }

  /**
   * Replaces a key's secret: the old one stops working at once. @returns the new key (shown this once) and its view.
   * @throws OpenAIError 404 `key_not_found`.
   */
  rotate(id: string): { key: string; view: KeyView } {
    const record = this.record(id);
    return this.issue(id, record, {});
  }

  /** Revokes a key. @returns whether it existed. */
  revoke(id: string): boolean {
    const removed = this.table.delete(id);
    this.reindex();
    return removed;
  }

  private issue(
    id: string,
    base: Omit<ApiKeyRecord, "id" | "keySha256" | "keyPreview" | "createdAt" | "updatedAt">,
    input: Partial<KeyInput>,
  ) {
    const key = `${API_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
    const saved = this.table.put({
      ...base,
      ...fields(input, base),
      id,
      keySha256: secretDigest(key).toString("hex"),
      keyPreview: key.slice(0, API_KEY_PREFIX.length + 4),
    });
    this.reindex();
    return { key, view: this.view(saved) };
  }

  private record(id: string): ApiKeyRecord {
    const record = this.table.get(id);
    if (!record) throw new OpenAIError(404, `no API key '${id}'`, { code: "key_not_found", param: "id" });
    return record;
  }

  private reindex(): void {
    this.index = new Map(
      this.table.list().map((record) => [
        record.keySha256,
        {
          key: {
            id: record.id,
            allows: modelTest(record.models),
            rpm: record.rpm,
            tpm: record.tpm,
            maxConcurrent: record.maxConcurrent,
          },
          expiresAt: record.expiresAt,
        },
      ]),
    );
    this.byId = new Map([...this.index.values()].map(({ key }) => [key.id, key]));
  }

  private view(record: ApiKeyRecord): KeyView {
    return {
      id: record.id,
      name: record.name,
      key_preview: `${record.keyPreview}…`,
      models: record.models,
      rpm: record.rpm,
      tpm: record.tpm,
      max_concurrent: record.maxConcurrent,
      expires_at: record.expiresAt === null ? null : iso(record.expiresAt),
      expired: record.expiresAt !== null && record.expiresAt <= this.now(),
      created_at: iso(record.createdAt),
      updated_at: iso(record.updatedAt),
    };
  }
}

/** The stored fields an input sets, over `base`. */
function fields(
  input: Partial<KeyInput>,
  base: Pick<ApiKeyRecord, "name" | "models" | "rpm" | "tpm" | "maxConcurrent" | "expiresAt">,
): Pick<ApiKeyRecord, "name" | "models" | "rpm" | "tpm" | "maxConcurrent" | "expiresAt"> {
  return {
    name: input.name ?? base.name,
    models: input.models ?? base.models,
    rpm: input.rpm === undefined ? base.rpm : input.rpm,
    tpm: input.tpm === undefined ? base.tpm : input.tpm,
    maxConcurrent: input.max_concurrent === undefined ? base.maxConcurrent : input.max_concurrent,
    expiresAt:
      input.expires_at === undefined ? base.expiresAt : input.expires_at === null ? null : Date.parse(input.expires_at),
  };
}
