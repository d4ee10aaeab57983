/**
 * The shapes the dashboard reads from the admin API, restated for the browser: the client is its own program (DOM
 * types, ./tsconfig.json), which cannot type-check server modules under Bun's types, so it imports none of them. Each
 * shape names where the server declares it; test/dashboard/ drives the pages against a real Ithaca.
 */

/** An engine of `GET /admin/clusters` (src/fleet/enrolment.ts EngineView). */
export interface EngineView {
  id: string;
  name: string;
  kind: string;
  upstream: string;
  ssh: string | null;
  credential_env: string | null;
  api_key_set: boolean;
  api_key_source: "stored" | "env" | "config" | "none";
  enabled: boolean;
  source: "config" | "enrolled";
  available: boolean;
  models: string[];
  timeouts: { connect_ms: number; first_byte_ms: number; idle_ms: number };
  /** SSH management (src/fleet/ssh-enrolment.ts SshView): absent on a server without it. */
  ssh_host_key?: string | null;
  ssh_key_source?: string;
  ssh_commands?: { start?: string; stop?: string; status?: string } | null;
  ssh_log?: string | null;
}

/** What the SSH contact at enrolment found (src/fleet/ssh-enrolment.ts EnrolmentSshContact). */
export interface SshContact {
  host_key: string | null;
  authenticated: boolean;
  latency_ms: number | null;
  error: { code: string; message: string } | null;
}

/** `GET /admin/clusters/{id}/connection-test` (src/admin/ssh.ts). */
export interface SshConnectionTest {
  cluster: string;
  ok: boolean;
  ssh: string;
  latency_ms: number | null;
  reused: boolean;
  hostname: string | null;
  memory_bytes: number | null;
  ram_gb: number | null;
  host_key: string | null;
}

/** `POST /admin/clusters/{id}/telemak/lifecycle` and `/service` (src/admin/ssh.ts). */
export interface SshCommandAnswer {
  cluster: string;
  action: string;
  ok: boolean;
  rc: number | null;
  stdout: string;
  stderr: string;
}

/** `GET /admin/clusters/{id}/logs?tail=N` (src/admin/ssh.ts). */
export interface SshLogsAnswer {
  cluster: string;
  path: string;
  data: Array<{ file: string; text: string }>;
  stderr: string;
  truncated: boolean;
}

/** What a probe found (src/fleet/engine-probe.ts EngineProbe). */
export interface EngineProbe {
  reachable: boolean;
  latency_ms: number | null;
  models: Array<{ id: string; context_length: number | null }>;
  contract: { engine?: string; version?: string } | null;
  error: string | null;
}

/** `GET /admin/clusters/{id}/status` (src/fleet/telemak-ops.ts TelemakStatus). */
export interface TelemakStatus {
  cluster: string;
  upstream_reachable: boolean;
  loaded: boolean;
  models_loaded: string[];
  busy: boolean;
  current_phase: string | null;
  current_model: string | null;
  current_tok_s: number | null;
  active_requests: number | null;
  last_error: string | null;
  version: string | null;
  uptime_s: number | null;
  requests_served: number | null;
  avg_tok_s_recent: number | null;
  memory: { used_gb: number | null; free_gb: number | null; total_gb: number | null; ceiling_gb: number | null } | null;
  sessions: Array<{ id: string; model: string | null; kv_size_mb: number | null; last_used_s: number | null }>;
}

/** A cloud provider of `GET /admin/providers` (src/fleet/providers.ts ProviderView). */
export interface ProviderView {
  id: string;
  api_base: string;
  protocol: string;
  source: "config" | "runtime";
  enabled: boolean;
  available: boolean;
}

/** An API key of `GET /admin/keys` (src/access/api-keys.ts KeyView). */
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

/** The discovery gate (src/access/pairing.ts GateState). */
export interface GateState {
  active: boolean;
  started_at: string | null;
  expires_at: string | null;
}

/** A paired client of `GET /admin/crew` (src/access/pairing.ts CrewView). */
export interface CrewView {
  id: string;
  client_id: string;
  client_name: string;
  user_label: string | null;
  token_preview: string;
  created_at: string;
  last_seen_at: string | null;
}

/** A local model of `GET /admin/models` (src/backends/mlx/model-view.ts ModelView). */
export interface ModelView {
  id: string;
  aliases: string[];
  source: "config" | "inventory";
  state: "unloaded" | "loading" | "loaded" | "unloading";
  ready: boolean;
  arch: string | null;
  quantization: { bits: number; group_size: number } | null;
  dtype: string | null;
  context_length: number | null;
  capabilities: string[];
  weight_bytes: number | null;
  kv_reserve_bytes: number | null;
  estimated_bytes: number | null;
  in_flight: number;
  loaded_at: string | null;
  last_used_at: string | null;
  error: string | null;
}

/** The local memory budget (src/backends/mlx/memory-budget.ts MemoryUse). */
export interface MemoryUse {
  budget_bytes: number;
  reserved_bytes: number;
  free_bytes: number;
}

/** A `/v1/models` entry (src/catalog/openai-models.ts OpenAIModelEntry). */
export interface OpenAIModelEntry {
  id: string;
  owned_by: string;
  root: string;
  x_odyssai: Record<string, unknown>;
}

/** A request in flight of `GET /admin/runs` (src/routes/runs.ts RunView). */
export interface RunView {
  id: string;
  started_at: string;
  age_ms: number;
  route: string;
  caller: string | null;
  model: string | null;
  served_model: string | null;
  backend: string | null;
  stream: boolean;
  state: "waiting" | "generating" | "cancelling";
  ttft_ms: number | null;
}

/** A per-model sum of `GET /admin/metrics` (src/store/requests.ts ModelAggregate). */
export interface ModelAggregate {
  model: string;
  requests: number;
  errors: number;
  streams: number;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  ttft_ms_p50: number | null;
  ttft_ms_p95: number | null;
  tokens_per_s_mean: number | null;
  duration_ms_mean: number;
  last_at: number;
}

/** `{data, count}` lists of the admin API. */
export interface List<T> {
  data: T[];
  count: number;
}

/** `GET /admin/models`. */
export interface LocalModelsAnswer {
  data: ModelView[];
  memory: MemoryUse | null;
  engine: {
    models_dir: string | null;
    load_on_demand: boolean;
    idle_ttl_s: number;
    max_active: number;
    max_queue: number;
  } | null;
}

/** One kept KV cache of `GET /admin/sessions`. */
export interface SessionRow {
  id: string | null;
  kind: "session" | "shared";
  model: string;
  cache_scope: string;
  tokens: number;
  bytes: number;
  last_use: number;
}

/** `GET /admin/sessions`. */
export interface SessionsAnswer {
  data: SessionRow[];
  models: Array<{
    model: string;
    entries: number;
    bytes: number;
    max_bytes: number | null;
    max_entries: number | null;
  }>;
}

/** `PUT /admin/clusters/{id}` (and its dry run). */
export interface EnrolAnswer {
  dry_run: boolean;
  probe: EngineProbe;
  /** The SSH contact, for an engine with an SSH target (absent on a server without SSH management). */
  ssh?: SshContact | null;
  engine: EngineView;
}

/** An engine of `GET /admin/status` (src/admin/status.ts). */
export interface StatusEngine {
  id: string;
  backend: string;
  kind: string;
  available: boolean;
  in_flight: number;
  loaded: string[];
  loading: string[];
  serving: string[];
  models: Array<{ id: string; ready: boolean; state: string; in_flight: number }>;
}

/** `GET /admin/status` (src/admin/status.ts). */
export interface StatusAnswer {
  loaded: boolean;
  loading: boolean;
  in_flight: number;
  engines: StatusEngine[];
}

/** A request-log row (src/admin/request-view.ts). */
export interface RequestRow {
  id: string;
  /** Arrival, unix seconds. */
  ts: number;
  at: string;
  client: string | null;
  cluster: string | null;
  model: string | null;
  route: string;
  stream: boolean;
  status: number;
  error: string | null;
  prompt_tokens: number | null;
  cached_tokens: number | null;
  completion_tokens: number | null;
  duration_ms: number;
  ttft_ms: number | null;
  tps: number | null;
}

/** `GET /admin/metrics` (src/admin/metrics.ts). */
export interface MetricsAnswer {
  data: RequestRow[];
  count: number;
  models: ModelAggregate[];
  in_flight: number;
  log: { enabled: boolean; rows: number; max_rows: number; max_age_days: number };
}

/** `GET /admin/runs` (src/admin/runs.ts). */
export interface RunsAnswer {
  data: RunView[];
  count: number;
}

/** `GET /admin/version` (src/admin/version.ts). */
export interface VersionAnswer {
  name: string;
  version: string;
  bun: string;
  platform: string;
  mlx: string | null;
}

/** `GET /admin/catalog` (src/admin/catalog.ts): what `/v1/models?include_unloaded=true` lists. */
export interface CatalogAnswer {
  data: OpenAIModelEntry[];
}

/** `POST /admin/keys`: the view, and the key itself, shown this once. */
export type CreatedKey = KeyView & { key: string };
