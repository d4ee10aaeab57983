/**
 * Engines joining and leaving while Ithaca runs (DESIGN §7; reference/odyssai-x-wire.md §3.1, improved): an engine is
 * probed before it is saved (OdyssAI-X saves blindly and probes lazily), saved in the runtime database in one
 * transaction, and joins the backend registry — hence the catalog — at once; it is restored at the next start.
 * Engines from `ithaca.yaml` are listed beside them, read-only. An engine's API key is named by environment variable
 * (`credential_env`) or stored through the API in the secrets file (`api_key`; mode 0600, never in the database, never
 * returned), the stored one first (./credentials.ts). An engine with an SSH target is contacted over SSH at enrolment
 * too (./ssh-enrolment.ts): the host key it offers is pinned, and the view shows its fingerprint.
 */
import type { BackendRegistry } from "../backends/registry.ts";
import { publicBaseUrl } from "../backends/http/endpoint.ts";
import { HttpBackend, upstreamBackendId } from "../backends/http/http-backend.ts";
import { createOpenAIHttpBackend } from "../backends/openai/backend.ts";
import { resolveUpstream } from "../config/load.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { EngineKind, EngineRecord } from "../store/engines.ts";
import type { Store } from "../store/store.ts";
import {
  applyKeyUpdate,
  checkKeyUpdate,
  engineSecretName,
  type KeySource,
  pendingStoredKey,
  resolveCredential,
} from "./credentials.ts";
import { type EngineProbe, probeEngine } from "./engine-probe.ts";
import type { SshPool } from "./ssh.ts";
import {
  contactAtEnrolment,
  type EnrolmentSshContact,
  sshEngineOf,
  sshFieldsOf,
  type SshInput,
  type SshView,
  sshViewOf,
} from "./ssh-enrolment.ts";
import type { SshEngine } from "./ssh-ops.ts";
import type { TelemakTarget } from "./telemak-ops.ts";

/** What an engine is, as saved or about to be (its timestamps aside). */
type EngineFields = Omit<EngineRecord, "createdAt" | "updatedAt">;

/** Deadline of each probe request at enrolment, in ms. */
export const ENROLMENT_PROBE_TIMEOUT_MS = 4_000;

/** What `PUT /admin/clusters/{id}` sends (the SSH fields: {@link SshInput}). */
export interface EngineInput extends SshInput {
  name?: string;
  kind: EngineKind;
  /** The engine's URL: `http://10.0.0.5:8003` (the `/v1` prefix is added when the path is empty) or a full base URL. */
  upstream: string;
  /** Name of the environment variable holding the engine's API key. */
  credential_env?: string;
  /** A key to store in the secrets file (used before `credential_env`); absent: the stored key is kept. */
  api_key?: string;
  /** Removes the stored key. */
  clear_api_key?: boolean;
  enabled?: boolean;
}

/** An engine as the admin API shows it. */
export interface EngineView extends SshView {
  id: string;
  name: string;
  kind: string;
  /** Base URL, credentials removed. */
  upstream: string;
  ssh: string | null;
  credential_env: string | null;
  /** Whether requests carry a key; the key itself is never shown. */
  api_key_set: boolean;
  /** Where the key comes from: `stored` (this API), `env` (`credential_env`), `config` (ithaca.yaml), `none`. */
  api_key_source: KeySource;
  enabled: boolean;
  /** `config`: from ithaca.yaml (read-only); `enrolled`: through this API. */
  source: "config" | "enrolled";
  /** Whether requests reach it now (false while it cools down after failures or is disabled). */
  available: boolean;
  /** Catalog ids of the models it serves now. */
  models: string[];
  /** Deadlines of its requests, in ms (`upstreams[].timeout_ms`). */
  timeouts: { connect_ms: number; first_byte_ms: number; idle_ms: number };
}

/**
 * A Telemak's deadline for the first byte of an answer, in ms: it generates a non-stream answer whole before it
 * answers, and Companion waits up to 600 s for it (telemak-companion-wire §9 #35).
 */
export const TELEMAK_FIRST_BYTE_MS = 600_000;

/** The `timeouts` of an engine's view. */
function timeoutsView(upstream: UpstreamConfig): Pick<EngineView, "timeouts"> {
  const { connect, first_byte, idle } = upstream.timeout_ms;
  return { timeouts: { connect_ms: connect, first_byte_ms: first_byte, idle_ms: idle } };
}

/** The enrolled and configured engines (see the module comment). */
export class Enrolment {
  private readonly configured: ReadonlyMap<string, UpstreamConfig>;

  constructor(
    private readonly store: Store,
    private readonly registry: BackendRegistry,
    configured: readonly UpstreamConfig[],
    private readonly env: Record<string, string | undefined> = process.env,
    /** SSH connections, for the contact at enrolment (none: engines are enrolled without it). */
    private readonly ssh?: SshPool,
  ) {
    this.configured = new Map(configured.map((upstream) => [upstream.id, upstream]));
  }

  /** Adds every enabled enrolled engine to the registry (at start); one whose id the config took is skipped. */
  restore(): void {
    for (const engine of this.store.engines.list()) {
      if (!engine.enabled) continue;
      if (this.configured.has(engine.id)) {
        console.warn(`[ithaca] enrolled engine '${engine.id}' is shadowed by the upstream of that id in the config`);
        continue;
      }
      this.registry.add(createOpenAIHttpBackend(this.upstreamOf(engine, this.storedKey(engine.id))));
    }
  }

  /** Every engine: configured ones first (read-only), then the enrolled ones. */
  async list(): Promise<EngineView[]> {
    const configured = [...this.configured.values()].map((upstream) => this.viewOfConfigured(upstream));
    const enrolled = this.store.engines.list().map((engine) => this.viewOfEnrolled(engine));
    return Promise.all([...configured, ...enrolled]);
  }

  /** Whether `id` is an engine, configured or enrolled. */
  knows(id: string): boolean {
    return this.configured.has(id) || this.store.engines.get(id) !== undefined;
  }

  /** One engine, or undefined. */
  async view(id: string): Promise<EngineView | undefined> {
    const upstream = this.configured.get(id);
    if (upstream) return this.viewOfConfigured(upstream);
    const engine = this.store.engines.get(id);
    return engine ? this.viewOfEnrolled(engine) : undefined;
  }

  /**
   * Probes an engine and, unless `dryRun`, saves it and puts it in service (replacing an enrolled engine of that id).
   * @returns the probe, the SSH contact (null without an SSH target), and the engine as saved (or as it would be, for
   *   a dry run).
   * @throws OpenAIError 409 `engine_read_only` for an id the config defines, `id_taken` for a runtime provider's; 400
   *   naming the field for an invalid URL or credential name, or `api_key` with `clear_api_key`, or SSH fields
   *   without `ssh`; 502 `probe_failed` naming the probe's failure when the engine did not answer and `force` is off
   *   (nothing is saved); 502 `ssh_host_key_changed` when the host offers another key than the one pinned (nothing is
   *   saved); Error from the file system when the key cannot be stored.
   */
  async put(
    id: string,
    input: EngineInput,
    options: { dryRun?: boolean; force?: boolean } = {},
  ): Promise<{ dry_run: boolean; probe: EngineProbe; ssh: EnrolmentSshContact | null; engine: EngineView }> {
    if (this.configured.has(id)) throw readOnly(id);
    if (this.store.providers.get(id)) {
      throw new OpenAIError(409, `'${id}' is a cloud provider (/admin/providers); choose another engine id`, {
        code: "id_taken",
        param: "id",
      });
    }
    checkKeyUpdate(input);
    const stored = pendingStoredKey(this.store.secrets, engineSecretName(id), input);
    const record = {
      id,
      label: input.name ?? id,
      kind: input.kind,
      baseUrl: withApiPrefix(input.upstream),
      sshTarget: input.ssh ?? null,
      ...sshFieldsOf(input, this.store.engines.get(id)),
      credentialEnv: input.credential_env ?? null,
      enabled: input.enabled ?? true,
    };
    const upstream = this.upstreamOf(record, stored);
    const [probe, ssh] = await Promise.all([
      probeEngine(upstream.base_url, upstream.api_key, ENROLMENT_PROBE_TIMEOUT_MS),
      this.ssh ? contactAtEnrolment(this.ssh, record, this.env) : null,
    ]);
    if (ssh?.host_key && record.sshHostKey === null) record.sshHostKey = ssh.host_key; // first contact: pinned
    if (options.dryRun) {
      const preview = { ...this.baseView(record, stored), available: probe.reachable };
      return { dry_run: true, probe, ssh, engine: { ...preview, models: probe.models.map((model) => model.id) } };
    }
    if (ssh?.error?.code === "ssh_host_key_changed") {
      throw new OpenAIError(502, `${ssh.error.message} Nothing was saved.`, { code: "ssh_host_key_changed" });
    }
    if (!probe.reachable && !options.force) {
      throw new OpenAIError(
        502,
        `engine '${id}' did not answer the probe (${probe.error}); nothing was saved. Send force=true to enrol it anyway.`,
        { code: "probe_failed", param: "upstream" },
      );
    }
    const saved = this.store.engines.put(record);
    applyKeyUpdate(this.store.secrets, engineSecretName(id), input);
    const backendId = upstreamBackendId(id);
    if (this.registry.get(backendId)) void this.registry.remove(backendId);
    if (saved.enabled) this.registry.add(createOpenAIHttpBackend(upstream));
    return { dry_run: false, probe, ssh, engine: await this.viewOfEnrolled(saved) };
  }

  /**
   * Removes an enrolled engine: out of the catalog at once, its requests in flight finish, then it is closed.
   * @returns false when no engine of that id is enrolled.
   * @throws OpenAIError 409 `engine_read_only` for an id the config defines.
   */
  remove(id: string): boolean {
    if (this.configured.has(id)) throw readOnly(id);
    if (!this.store.engines.delete(id)) return false;
    this.store.secrets.delete(engineSecretName(id));
    void this.registry.remove(upstreamBackendId(id));
    return true;
  }

  /**
   * Where an engine's admin API is (configured or enrolled), for the Telemak operations (./telemak-ops.ts).
   * @throws OpenAIError 404 `engine_not_found`.
   */
  target(id: string): TelemakTarget {
    const engine = this.store.engines.get(id);
    const upstream = this.configured.get(id) ?? (engine ? this.upstreamOf(engine, this.storedKey(id)) : undefined);
    if (!upstream) throw new OpenAIError(404, `no engine '${id}'`, { code: "engine_not_found", param: "id" });
    return { id, baseUrl: upstream.base_url, apiKey: upstream.api_key };
  }

  /**
   * An engine's SSH target, credentials, pinned host key, commands and log, for the SSH operations (./ssh-ops.ts).
   * @throws OpenAIError 404 `engine_not_found`; 409 `ssh_not_configured` when it has no SSH target (engines from the
   *   configuration file have none).
   */
  sshEngine(id: string): SshEngine {
    const engine = this.store.engines.get(id);
    if (!engine && !this.configured.has(id)) {
      throw new OpenAIError(404, `no engine '${id}'`, { code: "engine_not_found", param: "id" });
    }
    return sshEngineOf(id, engine, this.env);
  }

  /** Pins engine `id`'s host key at first contact (nothing when one is pinned or its target changed meanwhile). */
  pinHostKey(id: string, target: string, fingerprint: string): void {
    this.store.engines.pinHostKey(id, target, fingerprint);
  }

  /** Probes an engine's models again now, so a load or an unload there shows in the catalog at once. */
  async refresh(id: string): Promise<void> {
    const backend = this.registry.get(upstreamBackendId(id));
    if (backend instanceof HttpBackend) await backend.refreshModels();
  }

  /** The key stored for engine `id`, if any. */
  private storedKey(id: string): string | undefined {
    return this.store.secrets.get(engineSecretName(id));
  }

  /**
   * The upstream config of an enrolled engine (every enrolled kind speaks the OpenAI dialect), with `stored` (its
   * stored key) used before the variable `credential_env` names.
   */
  private upstreamOf(engine: EngineFields, stored: string | undefined): UpstreamConfig {
    const upstream = resolveUpstream(
      {
        id: engine.id,
        kind: "openai-http",
        engine: engine.kind,
        label: engine.label,
        base_url: engine.baseUrl,
        timeout_ms: engine.kind === "telemak" ? { first_byte: TELEMAK_FIRST_BYTE_MS } : {},
        ...(engine.credentialEnv ? { api_key_env: engine.credentialEnv } : {}),
      },
      this.env,
    );
    return { ...upstream, api_key: resolveCredential(stored, engine.credentialEnv, this.env).key };
  }

  private baseView(engine: EngineFields, stored: string | undefined): Omit<EngineView, "available" | "models"> {
    const credential = resolveCredential(stored, engine.credentialEnv, this.env);
    return {
      ...timeoutsView(this.upstreamOf(engine, stored)),
      id: engine.id,
      name: engine.label,
      kind: engine.kind,
      upstream: publicBaseUrl(engine.baseUrl),
      ssh: engine.sshTarget,
      ...sshViewOf(engine, this.env),
      credential_env: engine.credentialEnv,
      api_key_set: credential.key !== undefined,
      api_key_source: credential.source,
      enabled: engine.enabled,
      source: "enrolled",
    };
  }

  private async viewOfEnrolled(engine: EngineRecord): Promise<EngineView> {
    return { ...this.baseView(engine, this.storedKey(engine.id)), ...(await this.serving(engine.id)) };
  }

  private async viewOfConfigured(upstream: UpstreamConfig): Promise<EngineView> {
    return {
      ...timeoutsView(upstream),
      id: upstream.id,
      name: upstream.label ?? upstream.id,
      kind: upstream.kind,
      upstream: publicBaseUrl(upstream.base_url),
      ssh: null,
      ...sshViewOf(null, this.env),
      credential_env: upstream.api_key_env ?? null,
      api_key_set: upstream.api_key !== undefined,
      api_key_source: upstream.api_key !== undefined ? "config" : "none",
      enabled: true,
      source: "config",
      ...(await this.serving(upstream.id)),
    };
  }

  /** Whether the engine's backend is in service and available, and the models it serves now. */
  private async serving(id: string): Promise<Pick<EngineView, "available" | "models">> {
    const backend = this.registry.get(upstreamBackendId(id));
    if (!backend) return { available: false, models: [] };
    const models = await backend.listModels();
    return { available: backend.available?.() ?? true, models: models.map((model) => model.id) };
  }
}

/** `url` with `/v1` appended when its path is empty (an engine's or a provider's address as people write it). */
export function withApiPrefix(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = "/v1";
    return parsed.href.replace(/\/+$/, "");
  } catch {
    return url; // The upstream schema names the problem.
  }
}

function readOnly(id: string): OpenAIError {
  return new OpenAIError(409, `engine '${id}' comes from the configuration file and is read-only here`, {
    code: "engine_read_only",
    param: "id",
  });
}
