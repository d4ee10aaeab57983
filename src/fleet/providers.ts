/**
 * Cloud providers managed while Ithaca runs (issue 12 item 5; reference/odyssai-x-wire.md §1.2 and §4, improved):
 * OpenAI, Anthropic, OpenRouter or any OpenAI-compatible API, added, replaced and removed through `/admin/providers`.
 *
 * - A provider is saved in the runtime database (src/store/providers.ts) and joins the backend registry — hence the
 *   catalog — at once; it is restored at the next start. A PUT replaces the provider of that id (its backend removed,
 *   a new one added); a DELETE takes it out of service at once (requests in flight finish).
 * - It is served as a `cloud` upstream of ithaca.yaml would be: published aliases as given (else the provider's own
 *   model list), `owned_by: odyssai-cloud-<id>`, `session_id` not forwarded; the Anthropic protocol through the
 *   Anthropic backend (`x-api-key`), the OpenAI protocol through the OpenAI one (`Authorization: Bearer`).
 * - Keys: stored through the API in the secrets file (mode 0600, src/store/secrets.ts; never in the database) or named
 *   by environment variable; the stored key wins. No view, error or log line carries one: `api_key_set` and
 *   `api_key_source` say what there is.
 * - Cloud upstreams of ithaca.yaml (`cloud: true` or `kind: anthropic-http`) are listed beside them, read-only (409).
 */
import * as v from "valibot";
import type { BackendRegistry } from "../backends/registry.ts";
import { createAnthropicHttpBackend } from "../backends/anthropic/backend.ts";
import { publicBaseUrl } from "../backends/http/endpoint.ts";
import { upstreamBackendId } from "../backends/http/http-backend.ts";
import { createOpenAIHttpBackend } from "../backends/openai/backend.ts";
import { resolveUpstream } from "../config/load.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { ProviderProtocol, ProviderRecord, PublishedAlias } from "../store/providers.ts";
import type { Store } from "../store/store.ts";
import {
  applyKeyUpdate,
  checkKeyUpdate,
  type KeySource,
  pendingStoredKey,
  providerSecretName,
  resolveCredential,
} from "./credentials.ts";
import { withApiPrefix } from "./enrolment.ts";
import { type AuthUsed, listProviderModels } from "./provider-models.ts";

/** What `PUT /admin/providers/{id}` sends. */
export interface ProviderInput {
  /** Base URL; `/v1` is appended when it has no path (`https://api.anthropic.com` → `…/v1`). */
  api_base: string;
  /** A key to store (secrets file, mode 0600); empty or null: the stored key is kept. */
  api_key?: string | null;
  /** Name of the environment variable holding the key (used when none is stored). */
  api_key_env?: string | null;
  /** Removes the stored key. */
  clear_api_key?: boolean;
  /** Aliases to publish; none: the provider's own model list is served. */
  published?: Array<{ alias: string; upstream: string; caps?: string[] }>;
  enabled?: boolean;
  /** Default `openai`. */
  protocol?: ProviderProtocol;
}

/** A provider as the admin API shows it: redacted (no key, only whether there is one and where it comes from). */
export interface ProviderView {
  id: string;
  /** Base URL, credentials removed. */
  api_base: string;
  api_key_env: string | null;
  api_key_set: boolean;
  api_key_source: KeySource;
  published: PublishedAlias[];
  enabled: boolean;
  protocol: ProviderProtocol;
  /** `config`: from ithaca.yaml (read-only); `runtime`: through this API. */
  source: "config" | "runtime";
  /** Whether requests reach it now (false when disabled, or while it cools down after failures). */
  available: boolean;
}

/** What `POST /admin/providers/{id}/test` answers. */
export interface ProviderTest {
  ok: boolean;
  models_count: number;
  /** The header that carried the key (`bearer`, `x-api-key`), or `none`. */
  auth_used: AuthUsed;
  api_key_source: KeySource;
  /** Up to 10 of the provider's model ids. */
  sample: string[];
  /** Why it failed (no key, no provider body in it). */
  error?: string;
}

/** Ids that name routes rather than providers. */
const RESERVED_IDS = new Set(["templates"]);

/** Whether a configured upstream is a cloud provider (listed here) rather than a LAN engine (/admin/clusters). */
const isCloud = (upstream: UpstreamConfig) => upstream.cloud || upstream.kind === "anthropic-http";

/** The runtime and configured cloud providers (see the module comment). */
export class Providers {
  private readonly configured: ReadonlyMap<string, UpstreamConfig>;

  /** @param configured every upstream of ithaca.yaml (the cloud ones are listed; every id is taken). */
  constructor(
    private readonly store: Store,
    private readonly registry: BackendRegistry,
    configured: readonly UpstreamConfig[],
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.configured = new Map(configured.map((upstream) => [upstream.id, upstream]));
  }

  /** Adds every enabled provider to the registry (at start); one whose id is taken already is skipped, with a warning. */
  restore(): void {
    for (const record of this.store.providers.list()) {
      if (!record.enabled) continue;
      if (this.configured.has(record.id) || this.registry.get(upstreamBackendId(record.id))) {
        console.warn(`[ithaca] provider '${record.id}' is shadowed by an upstream or engine of that id; not served`);
        continue;
      }
      this.registry.add(backendOf(this.upstreamOf(record)));
    }
  }

  /** Every provider: configured cloud upstreams first (read-only), then the runtime ones. */
  list(): ProviderView[] {
    const configured = [...this.configured.values()].filter(isCloud).map((upstream) => this.viewOfConfigured(upstream));
    return [...configured, ...this.store.providers.list().map((record) => this.viewOf(record))];
  }

  /** One provider, or undefined. */
  view(id: string): ProviderView | undefined {
    const upstream = this.configured.get(id);
    if (upstream) return isCloud(upstream) ? this.viewOfConfigured(upstream) : undefined;
    const record = this.store.providers.get(id);
    return record ? this.viewOf(record) : undefined;
  }

  /**
   * Saves a provider (replacing the one of that id, its stored key kept unless replaced or cleared) and serves it at
   * once when enabled.
   * @returns the provider as saved, redacted.
   * @throws OpenAIError 409 `provider_read_only` for an id ithaca.yaml defines, `id_taken` for an enrolled engine's;
   *   400 naming the field (`id`, `api_base`, `published.N.alias`, `clear_api_key`...) for invalid input; Error from
   *   the file system when the key cannot be stored.
   */
  put(id: string, input: ProviderInput): ProviderView {
    this.checkWritable(id);
    if (RESERVED_IDS.has(id)) throw badInput(`'${id}' is reserved; choose another provider id`, "id");
    checkKeyUpdate(input);
    const apiBase = withApiPrefix(input.api_base.trim());
    if (!/^https?:\/\/[^/]/i.test(apiBase)) throw badInput("api_base must be an http(s) URL", "api_base");
    const published = (input.published ?? []).map((entry) => ({
      alias: entry.alias,
      upstream: entry.upstream,
      caps: entry.caps ?? [],
    }));
    const seen = new Set<string>();
    for (const [index, entry] of published.entries()) {
      if (seen.has(entry.alias))
        throw badInput(`alias '${entry.alias}' is published twice`, `published.${index}.alias`);
      seen.add(entry.alias);
    }
    const record = {
      id,
      protocol: input.protocol ?? "openai",
      apiBase,
      apiKeyEnv: input.api_key_env || null,
      published,
      enabled: input.enabled ?? true,
    };
    // Built first: input the upstream schema refuses is a 400 before anything is saved.
    const upstream = this.upstreamOf(record, pendingStoredKey(this.store.secrets, providerSecretName(id), input));
    const saved = this.store.providers.put(record);
    applyKeyUpdate(this.store.secrets, providerSecretName(id), input);
    const backendId = upstreamBackendId(id);
    if (this.registry.get(backendId)) void this.registry.remove(backendId);
    if (saved.enabled) this.registry.add(backendOf(upstream));
    return this.viewOf(saved);
  }

  /**
   * Removes a runtime provider and its stored key: out of the catalog at once, its requests in flight finish.
   * @returns false when there is no runtime provider of that id.
   * @throws OpenAIError 409 `provider_read_only` for an id ithaca.yaml defines.
   */
  remove(id: string): boolean {
    this.checkWritable(id);
    if (!this.store.providers.delete(id)) return false;
    this.store.secrets.delete(providerSecretName(id));
    void this.registry.remove(upstreamBackendId(id));
    return true;
  }

  /**
   * Calls the provider's `GET {api_base}/models` with its key. Never throws for the provider's failures: they come
   * back as `ok: false` with `error`.
   * @throws OpenAIError 404 `provider_not_found`.
   */
  async test(id: string): Promise<ProviderTest> {
    const { upstream, source } = this.resolved(id);
    const listing = await listProviderModels(upstream);
    if (!listing.ok) {
      return {
        ok: false,
        models_count: 0,
        auth_used: listing.authUsed,
        api_key_source: source,
        sample: [],
        error: listing.error,
      };
    }
    return {
      ok: true,
      models_count: listing.models.length,
      auth_used: listing.authUsed,
      api_key_source: source,
      sample: listing.models.slice(0, 10),
    };
  }

  /**
   * The provider's own model list.
   * @throws OpenAIError 404 `provider_not_found`; 502 `provider_error` naming the provider and the failure.
   */
  async upstreamModels(id: string): Promise<{ data: Array<{ id: string }>; count: number }> {
    const listing = await listProviderModels(this.resolved(id).upstream);
    if (!listing.ok) {
      throw new OpenAIError(502, `provider '${id}' did not list its models: ${listing.error}`, {
        code: "provider_error",
      });
    }
    return { data: listing.models.map((model) => ({ id: model })), count: listing.models.length };
  }

  /** A provider's upstream config and key source. @throws OpenAIError 404 `provider_not_found`. */
  private resolved(id: string): { upstream: UpstreamConfig; source: KeySource } {
    const configured = this.configured.get(id);
    if (configured && isCloud(configured)) {
      return { upstream: configured, source: configured.api_key ? "config" : "none" };
    }
    const record = configured ? undefined : this.store.providers.get(id);
    if (!record) throw notFound(id);
    const upstream = this.upstreamOf(record);
    return { upstream, source: this.credentialOf(record).source };
  }

  /** @throws OpenAIError 409 when `id` belongs to ithaca.yaml or to an enrolled engine. */
  private checkWritable(id: string): void {
    if (this.configured.has(id)) {
      throw new OpenAIError(409, `'${id}' comes from the configuration file and is read-only here`, {
        code: "provider_read_only",
        param: "id",
      });
    }
    if (this.store.engines.get(id)) {
      throw new OpenAIError(409, `'${id}' is an enrolled engine (/admin/clusters); choose another provider id`, {
        code: "id_taken",
        param: "id",
      });
    }
  }

  private credentialOf(record: Pick<ProviderRecord, "id" | "apiKeyEnv">, stored?: string) {
    return resolveCredential(
      stored ?? this.store.secrets.get(providerSecretName(record.id)),
      record.apiKeyEnv,
      this.env,
    );
  }

  /**
   * The upstream config of a runtime provider: a `cloud` upstream, its key resolved (`stored`: the stored key to use,
   * default the one in the secrets file).
   * @throws OpenAIError 400 naming the field when the upstream schema refuses it.
   */
  private upstreamOf(record: Omit<ProviderRecord, "createdAt" | "updatedAt">, stored?: string): UpstreamConfig {
    let upstream: UpstreamConfig;
    try {
      upstream = resolveUpstream(
        {
          id: record.id,
          kind: record.protocol === "anthropic" ? "anthropic-http" : "openai-http",
          base_url: record.apiBase,
          cloud: true,
          ...(record.apiKeyEnv ? { api_key_env: record.apiKeyEnv } : {}),
          ...(record.published.length > 0
            ? {
                published: record.published.map((entry) => ({
                  alias: entry.alias,
                  model: entry.upstream,
                  capabilities: entry.caps,
                })),
              }
            : {}),
        },
        this.env,
      );
    } catch (error) {
      if (!(error instanceof v.ValiError)) throw error;
      const issue = error.issues[0] as v.BaseIssue<unknown>;
      const param = inputPath(v.getDotPath(issue) ?? "api_base");
      throw badInput(`Invalid '${param}': ${issue.message}`, param);
    }
    return { ...upstream, api_key: this.credentialOf(record, stored).key };
  }

  private viewOf(record: ProviderRecord): ProviderView {
    const credential = this.credentialOf(record);
    return {
      id: record.id,
      api_base: publicBaseUrl(record.apiBase),
      api_key_env: record.apiKeyEnv,
      api_key_set: credential.key !== undefined,
      api_key_source: credential.source,
      published: record.published,
      enabled: record.enabled,
      protocol: record.protocol,
      source: "runtime",
      available: this.available(record.id),
    };
  }

  private viewOfConfigured(upstream: UpstreamConfig): ProviderView {
    return {
      id: upstream.id,
      api_base: publicBaseUrl(upstream.base_url),
      api_key_env: upstream.api_key_env ?? null,
      api_key_set: upstream.api_key !== undefined,
      api_key_source: upstream.api_key !== undefined ? "config" : "none",
      published: (upstream.published ?? []).map((entry) => ({
        alias: entry.alias,
        upstream: entry.model,
        caps: entry.capabilities,
      })),
      enabled: true,
      protocol: upstream.kind === "anthropic-http" ? "anthropic" : "openai",
      source: "config",
      available: this.available(upstream.id),
    };
  }

  private available(id: string): boolean {
    const backend = this.registry.get(upstreamBackendId(id));
    return backend ? (backend.available?.() ?? true) : false;
  }
}

/** The backend of a provider's upstream, by protocol. */
function backendOf(upstream: UpstreamConfig) {
  return upstream.kind === "anthropic-http" ? createAnthropicHttpBackend(upstream) : createOpenAIHttpBackend(upstream);
}

/** The request field behind an upstream-schema path (`base_url` → `api_base`, `published.0.model` → `…upstream`). */
function inputPath(path: string): string {
  return path
    .replace(/^base_url$/, "api_base")
    .replace(/^(published\.\d+)\.model$/, "$1.upstream")
    .replace(/^(published\.\d+)\.capabilities/, "$1.caps");
}

function badInput(message: string, param: string): OpenAIError {
  return new OpenAIError(400, message, { code: "invalid_value", param });
}

function notFound(id: string): OpenAIError {
  return new OpenAIError(404, `no provider '${id}'`, { code: "provider_not_found", param: "id" });
}
