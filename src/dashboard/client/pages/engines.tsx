/**
 * Engines: every engine Ithaca serves — the local MLX engine, the upstreams of ithaca.yaml, engines enrolled at
 * runtime and cloud providers — with kind, health, latency, models and last error; enrolling one (the probe's preview
 * first, then Save), removing one, and for a Telemak its live status and its models' load and unload.
 */
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.ts";
import { useAction, useNow, usePoll } from "../hooks.ts";
import type {
  EngineProbe,
  EngineView,
  EnrolAnswer,
  List,
  MetricsAnswer,
  ProviderView,
  RequestRow,
  SshCommandAnswer,
  SshConnectionTest,
  SshContact,
  SshLogsAnswer,
  StatusAnswer,
  TelemakStatus,
} from "../types.ts";
import { ago, Badge, Card, ConfirmButton, duration, Empty, ErrorNote, Facts, num, UsageBar } from "../ui.tsx";

/** The kinds an engine can be enrolled as (src/store/engines.ts ENGINE_KINDS). */
const KINDS = ["telemak", "ithaca", "odyssai-x", "openai-compatible"] as const;

/** One row of the table, whatever the engine's origin. */
interface EngineRow {
  id: string;
  name: string;
  kind: string;
  source: "local" | "config" | "enrolled" | "provider";
  upstream: string | null;
  available: boolean;
  models: string[];
  /** Models it serves now, of `models` (the local engine lists unloaded ones too). */
  ready: number;
  view?: EngineView;
}

/** The median of `values`, or null. */
function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

/** Per engine (the log's `cluster`): the median time to first token and the latest error of the recent requests. */
function fromLog(rows: RequestRow[] | undefined) {
  const by = new Map<string, { ttft: number[]; error: RequestRow | null }>();
  for (const row of rows ?? []) {
    if (!row.cluster) continue;
    const entry = by.get(row.cluster) ?? { ttft: [], error: null };
    if (row.ttft_ms !== null) entry.ttft.push(row.ttft_ms);
    if (row.error && (!entry.error || entry.error.ts < row.ts)) entry.error = row;
    by.set(row.cluster, entry);
  }
  return new Map([...by].map(([id, entry]) => [id, { ttftP50: median(entry.ttft), lastError: entry.error }]));
}

export function EnginesPage() {
  const clusters = usePoll(() => api<List<EngineView>>("GET", "/admin/clusters"), 5000);
  const status = usePoll(() => api<StatusAnswer>("GET", "/admin/status"), 5000);
  const providers = usePoll(() => api<List<ProviderView>>("GET", "/admin/providers"), 15000);
  const metrics = usePoll(() => api<MetricsAnswer>("GET", "/admin/metrics?limit=300"), 10000);
  const [adding, setAdding] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [probes, setProbes] = useState<Record<string, EngineProbe>>({});
  const now = useNow(5000);

  const rows = useMemo(() => {
    const out: EngineRow[] = [];
    const local = status.data?.engines.find((engine) => engine.backend === "local");
    if (local) {
      out.push({
        id: "local",
        name: "This machine (MLX)",
        kind: "mlx",
        source: "local",
        upstream: null,
        available: local.available,
        models: local.models.map((model) => model.id),
        ready: local.models.filter((model) => model.ready).length,
      });
    }
    for (const view of clusters.data?.data ?? []) {
      out.push({
        id: view.id,
        name: view.name,
        kind: view.kind,
        source: view.source,
        upstream: view.upstream,
        available: view.available && view.enabled,
        models: view.models,
        ready: view.models.length,
        view,
      });
    }
    const seen = new Set(out.map((row) => row.id));
    for (const provider of providers.data?.data ?? []) {
      if (seen.has(provider.id)) continue;
      const models = status.data?.engines.find((engine) => engine.id === provider.id)?.models ?? [];
      out.push({
        id: provider.id,
        name: provider.id,
        kind: `cloud (${provider.protocol})`,
        source: "provider",
        upstream: provider.api_base,
        available: provider.available && provider.enabled,
        models: models.map((model) => model.id),
        ready: models.filter((model) => model.ready).length,
      });
    }
    return out;
  }, [clusters.data, status.data, providers.data]);

  const log = useMemo(() => fromLog(metrics.data?.data), [metrics.data]);
  const reloadAll = async () => {
    await Promise.all([clusters.reload(), status.reload()]);
  };
  const remove = useAction(async (id: string) => {
    await api("DELETE", `/admin/clusters/${seg(id)}`);
    if (selected === id) setSelected(null);
    await reloadAll();
  });
  const chosen = rows.find((row) => row.id === selected);

  return (
    <div class="page">
      <Card
        title={`All engines (${rows.length})`}
        actions={
          <button type="button" class="primary" onClick={() => setAdding(!adding)} aria-expanded={adding}>
            {adding ? "Close the form" : "Add engine"}
          </button>
        }
      >
        {adding && (
          <AddEngine
            onSaved={async (id, probe) => {
              setAdding(false);
              setSelected(id);
              setProbes({ ...probes, [id]: probe });
              await reloadAll();
            }}
          />
        )}
        <ErrorNote error={clusters.error ?? status.error} />
        <ErrorNote error={remove.error} onClose={remove.clearError} />
        <div class="table-wrap">
          <table class="table" aria-label="Engines">
            <thead>
              <tr>
                <th>Engine</th>
                <th>Kind</th>
                <th>Source</th>
                <th>Health</th>
                <th title="Median time to first token of its recent streamed requests, or the latest probe's round trip">
                  Latency
                </th>
                <th>Models</th>
                <th>Last error</th>
                <th class="actions-col" />
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && <Empty cols={8}>No engine yet: add one.</Empty>}
              {rows.map((row) => {
                const recent = log.get(row.id);
                const probe = probes[row.id];
                const latency = recent?.ttftP50 ?? probe?.latency_ms ?? null;
                return (
                  <tr key={row.id} class={row.id === selected ? "selected" : undefined} data-engine={row.id}>
                    <td>
                      <div class="strong">{row.name}</div>
                      <div class="muted small mono">
                        {row.id}
                        {row.upstream ? ` · ${row.upstream}` : ""}
                      </div>
                    </td>
                    <td>{row.kind}</td>
                    <td>
                      <Badge tone={row.source === "enrolled" ? "info" : "muted"}>{row.source}</Badge>
                    </td>
                    <td>
                      {row.available ? (
                        <Badge tone="ok">available</Badge>
                      ) : (
                        <Badge tone="bad" title="Not answering, cooling down after failures, or disabled">
                          unavailable
                        </Badge>
                      )}
                    </td>
                    <td class="num">
                      {latency === null ? "—" : duration(latency)}
                      {latency !== null && (
                        <div class="muted small">{recent?.ttftP50 != null ? "TTFT p50" : "probe"}</div>
                      )}
                    </td>
                    <td>
                      <ModelChips models={row.models} />
                      {row.source === "local" && (
                        <div class="muted small">
                          {row.ready} of {row.models.length} loaded
                        </div>
                      )}
                    </td>
                    <td class="error-cell">
                      {recent?.lastError ? (
                        <span title={recent.lastError.error ?? ""}>
                          <span class="bad-text">{recent.lastError.error}</span>
                          <div class="muted small">{ago(recent.lastError.ts * 1000, now)}</div>
                        </span>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td class="actions-col">
                      <button
                        type="button"
                        onClick={() => setSelected(selected === row.id ? null : row.id)}
                        aria-expanded={selected === row.id}
                      >
                        {selected === row.id ? "Hide" : "Details"}
                      </button>
                      {row.source === "enrolled" && (
                        <ConfirmButton
                          label="Remove"
                          confirm="Remove?"
                          disabled={remove.busy}
                          onConfirm={() => void remove.run(row.id)}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Card>
      {chosen && (
        <EngineDetails
          key={chosen.id}
          row={chosen}
          onProbe={(probe) => setProbes({ ...probes, [chosen.id]: probe })}
          onChanged={reloadAll}
        />
      )}
    </div>
  );
}

/** The first models of a list, then how many more. */
function ModelChips({ models }: { models: string[] }) {
  const shown = models.slice(0, 3);
  return (
    <div class="chips">
      {models.length === 0 && <span class="muted">none</span>}
      {shown.map((model) => (
        <span key={model} class="chip mono">
          {model}
        </span>
      ))}
      {models.length > shown.length && (
        <span class="muted small" title={models.slice(3).join("\n")}>
          +{models.length - shown.length} more
        </span>
      )}
    </div>
  );
}

/** The fields of the form, as typed. */
interface EngineForm {
  id: string;
  name: string;
  upstream: string;
  kind: (typeof KINDS)[number];
  credential_env: string;
  ssh: string;
}

const EMPTY_FORM: EngineForm = { id: "", name: "", upstream: "", kind: "telemak", credential_env: "", ssh: "" };

/** The body of `PUT /admin/clusters/{id}` for the form (empty optional fields left out). */
function bodyOf(form: EngineForm): Record<string, string> {
  const body: Record<string, string> = { kind: form.kind, upstream: form.upstream.trim() };
  if (form.name.trim()) body.name = form.name.trim();
  if (form.credential_env.trim()) body.credential_env = form.credential_env.trim();
  if (form.ssh.trim()) body.ssh = form.ssh.trim();
  return body;
}

/** "Add engine": the probe's preview (a dry run: nothing saved), then Save. */
function AddEngine({ onSaved }: { onSaved: (id: string, probe: EngineProbe) => Promise<void> }) {
  const [form, setForm] = useState<EngineForm>(EMPTY_FORM);
  const [preview, setPreview] = useState<{ form: EngineForm; answer: EnrolAnswer } | null>(null);
  const set = (field: keyof EngineForm) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setForm({ ...form, [field]: event.currentTarget.value });
  const current = preview !== null && JSON.stringify(preview.form) === JSON.stringify(form);
  const probe = useAction(async () => {
    const answer = await api<EnrolAnswer>("PUT", `/admin/clusters/${seg(form.id.trim())}?dry_run=true`, bodyOf(form));
    setPreview({ form, answer });
  });
  const save = useAction(async (force: boolean) => {
    const id = form.id.trim();
    const answer = await api<EnrolAnswer>(
      "PUT",
      `/admin/clusters/${seg(id)}${force ? "?force=true" : ""}`,
      bodyOf(form),
    );
    setForm(EMPTY_FORM);
    setPreview(null);
    await onSaved(id, answer.probe);
  });
  const reachable = current && preview?.answer.probe.reachable;

  return (
    <form
      class="add-engine"
      aria-label="Add engine"
      onSubmit={(event) => {
        event.preventDefault();
        void probe.run();
      }}
    >
      <div class="form-grid">
        <label class="field">
          <span>Id</span>
          <input
            name="id"
            value={form.id}
            onInput={set("id")}
            required
            pattern="[a-z0-9][a-z0-9\-]{0,40}"
            placeholder="studio"
            title="Lower-case letters, digits and dashes; its models are published as <id>:<model>"
          />
        </label>
        <label class="field">
          <span>Label</span>
          <input name="name" value={form.name} onInput={set("name")} placeholder="Mac Studio" />
        </label>
        <label class="field wide">
          <span>URL</span>
          <input
            name="upstream"
            type="url"
            value={form.upstream}
            onInput={set("upstream")}
            required
            placeholder="http://192.168.1.20:8003"
          />
        </label>
        <label class="field">
          <span>Kind</span>
          <select name="kind" value={form.kind} onChange={set("kind")}>
            {KINDS.map((kind) => (
              <option key={kind} value={kind}>
                {kind}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Credential env</span>
          <input
            name="credential_env"
            value={form.credential_env}
            onInput={set("credential_env")}
            placeholder="STUDIO_KEY"
            title="Name of the environment variable of the Ithaca process that holds the engine's API key"
          />
        </label>
        <label class="field">
          <span>SSH target</span>
          <input name="ssh" value={form.ssh} onInput={set("ssh")} placeholder="me@studio.local" />
        </label>
      </div>
      <div class="row">
        <button type="submit" disabled={probe.busy}>
          {probe.busy ? "Probing…" : "Preview"}
        </button>
        <button
          type="button"
          class={reachable ? "primary" : "danger"}
          disabled={!current || save.busy}
          title={current ? undefined : "Preview these values first"}
          onClick={() => void save.run(!reachable)}
        >
          {save.busy ? "Saving…" : reachable || !current ? "Save" : "Save anyway"}
        </button>
        <span class="muted small">The preview probes the engine; nothing is saved until Save.</span>
      </div>
      <ErrorNote error={probe.error} onClose={probe.clearError} />
      <ErrorNote error={save.error} onClose={save.clearError} />
      {preview && (
        <section class={current ? "preview" : "preview stale"} aria-label="Probe preview">
          {!current && <div class="muted small">The form changed since this preview: preview again to save.</div>}
          <ProbeView probe={preview.answer.probe} />
          {preview.answer.ssh && <SshContactView contact={preview.answer.ssh} />}
        </section>
      )}
    </form>
  );
}

/** What a probe found. */
function ProbeView({ probe }: { probe: EngineProbe }) {
  return (
    <div class="stack-sm">
      <div class="row">
        {probe.reachable ? <Badge tone="ok">reachable</Badge> : <Badge tone="bad">unreachable</Badge>}
        {probe.latency_ms !== null && <span>latency {duration(probe.latency_ms)}</span>}
        {probe.contract && (
          <span class="muted">
            contract: {String(probe.contract.engine ?? "?")} {String(probe.contract.version ?? "")}
          </span>
        )}
      </div>
      {probe.error && <div class="bad-text">{probe.error}</div>}
      {probe.models.length > 0 && (
        <div>
          <div class="muted small">
            {probe.models.length} model{probe.models.length === 1 ? "" : "s"}:
          </div>
          <ul class="model-list">
            {probe.models.map((model) => (
              <li key={model.id} class="mono">
                {model.id}
                {model.context_length ? <span class="muted"> · ctx {num(model.context_length)}</span> : null}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/** What the SSH contact of a preview found: the host key that will be pinned, or why it failed. */
function SshContactView({ contact }: { contact: SshContact }) {
  return (
    <div class="row small" data-part="ssh-contact">
      <span class="muted">SSH:</span>
      {contact.authenticated ? <Badge tone="ok">reached</Badge> : <Badge tone="bad">not reached</Badge>}
      {contact.latency_ms !== null && <span>{duration(contact.latency_ms)}</span>}
      {contact.host_key && (
        <span>
          host key <span class="mono">{contact.host_key}</span>
          {contact.authenticated ? " (pinned on Save)" : ""}
        </span>
      )}
      {contact.error && <span class="bad-text">{contact.error.message}</span>}
    </div>
  );
}

/** One engine's page: its facts, a probe, a Telemak's live status and models, SSH management. */
function EngineDetails({
  row,
  onProbe,
  onChanged,
}: {
  row: EngineRow;
  onProbe: (probe: EngineProbe) => void;
  onChanged: () => Promise<void>;
}) {
  const view = row.view;
  const [probe, setProbe] = useState<EngineProbe | null>(null);
  const reprobe = useAction(async () => {
    if (!view) return;
    const body: Record<string, string> = { kind: view.kind, upstream: view.upstream, name: view.name };
    if (view.ssh) body.ssh = view.ssh;
    if (view.credential_env) body.credential_env = view.credential_env;
    const answer = await api<EnrolAnswer>("PUT", `/admin/clusters/${seg(view.id)}?dry_run=true`, body);
    setProbe(answer.probe);
    onProbe(answer.probe);
  });
  const isCluster = row.source === "config" || row.source === "enrolled";

  return (
    <>
      <Card
        title={`${row.name}`}
        id="engine-details"
        actions={
          row.source === "enrolled" && (
            <button type="button" onClick={() => void reprobe.run()} disabled={reprobe.busy}>
              {reprobe.busy ? "Probing…" : "Probe now"}
            </button>
          )
        }
      >
        <Facts
          items={[
            ["Id", <span class="mono">{row.id}</span>],
            ["Kind", row.kind],
            ["Source", row.source],
            ["URL", row.upstream ? <span class="mono">{row.upstream}</span> : "—"],
            ["SSH target", view?.ssh ? <span class="mono">{view.ssh}</span> : "—"],
            ...(view?.ssh && view.ssh_host_key !== undefined
              ? ([
                  [
                    "SSH host key",
                    view.ssh_host_key ? <span class="mono">{view.ssh_host_key}</span> : "not pinned yet",
                  ],
                ] as Array<[string, ComponentChildren]>)
              : []),
            [
              "Credential",
              view
                ? view.api_key_set
                  ? `${view.api_key_source}${view.credential_env ? ` (${view.credential_env})` : ""}`
                  : view.credential_env
                    ? `${view.credential_env} (not set in Ithaca's environment)`
                    : "none"
                : "—",
            ],
            [
              "Deadlines",
              view
                ? `connect ${duration(view.timeouts.connect_ms)}, first byte ${duration(view.timeouts.first_byte_ms)}`
                : "—",
            ],
          ]}
        />
        <ErrorNote error={reprobe.error} onClose={reprobe.clearError} />
        {probe && <ProbeView probe={probe} />}
        {row.source === "local" && (
          <p class="muted">
            The local engine's models are managed on the <a href="#/models">Local models</a> page.
          </p>
        )}
      </Card>
      {isCluster && <LiveStatus id={row.id} onChanged={onChanged} />}
      {view?.ssh && <SshPanel view={view} />}
    </>
  );
}

/** A Telemak's (or another engine's) live status, inventory, load and unload. */
function LiveStatus({ id, onChanged }: { id: string; onChanged: () => Promise<void> }) {
  const status = usePoll(() => api<TelemakStatus>("GET", `/admin/clusters/${seg(id)}/status`), 3000, [id]);
  const inventory = usePoll(
    () => api<{ models?: Array<{ id: string; size_gb?: number | null }> }>("GET", `/admin/clusters/${seg(id)}/models`),
    15000,
    [id],
  );
  const act = useAction(async (action: "load" | "unload", model?: string) => {
    await api("POST", `/admin/clusters/${seg(id)}/${action}`, model === undefined ? {} : { model });
    await Promise.all([status.reload(), onChanged()]);
  });
  const s = status.data;
  const loaded = new Set(s?.models_loaded ?? []);
  const memory = s?.memory;
  return (
    <Card
      title="Live status"
      actions={
        loaded.size > 0 && (
          <ConfirmButton
            label="Unload all"
            confirm="Unload all?"
            disabled={act.busy}
            onConfirm={() => void act.run("unload")}
          />
        )
      }
    >
      <ErrorNote error={status.error} />
      <ErrorNote error={act.error} onClose={act.clearError} />
      {s && (
        <div class="status-grid">
          <Facts
            items={[
              [
                "Phase",
                s.upstream_reachable ? (
                  <Badge tone={s.busy ? "warn" : "ok"}>{s.current_phase ?? (s.busy ? "busy" : "unknown")}</Badge>
                ) : (
                  <Badge tone="bad">unreachable</Badge>
                ),
              ],
              [
                "Tokens/s",
                s.current_tok_s !== null
                  ? `${num(s.current_tok_s, 1)} now`
                  : `${num(s.avg_tok_s_recent, 1)} recent avg`,
              ],
              ["Requests", `${num(s.active_requests)} active, ${num(s.requests_served)} served`],
              ["Version", s.version ?? "—"],
              ["Uptime", s.uptime_s === null ? "—" : duration(s.uptime_s * 1000)],
              ["Last error", s.last_error ?? "—"],
            ]}
          />
          <div>
            <div class="muted small">Memory</div>
            {memory && memory.used_gb !== null && memory.total_gb !== null ? (
              <UsageBar
                used={memory.used_gb}
                total={memory.total_gb}
                label={`${num(memory.used_gb, 1)} GB used of ${num(memory.total_gb, 1)} GB${memory.ceiling_gb !== null ? ` (ceiling ${num(memory.ceiling_gb, 1)} GB)` : ""}`}
              />
            ) : (
              <div class="muted">not reported</div>
            )}
            <div class="muted small" style={{ marginTop: "0.75rem" }}>
              Sessions ({s.sessions.length})
            </div>
            <table class="table compact" aria-label="Engine sessions">
              <tbody>
                {s.sessions.length === 0 && <Empty cols={3}>No cached session.</Empty>}
                {s.sessions.map((session) => (
                  <tr key={session.id}>
                    <td class="mono">{session.id}</td>
                    <td class="mono small">{session.model ?? "—"}</td>
                    <td class="num">{session.kv_size_mb === null ? "—" : `${num(session.kv_size_mb, 1)} MB`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      <h3>Models on the engine</h3>
      {inventory.error ? (
        <p class="muted">This engine lists no model inventory ({inventory.error.message}).</p>
      ) : (
        <table class="table compact" aria-label="Engine inventory">
          <thead>
            <tr>
              <th>Model</th>
              <th class="num">Size</th>
              <th>State</th>
              <th class="actions-col" />
            </tr>
          </thead>
          <tbody>
            {(inventory.data?.models ?? []).length === 0 && <Empty cols={4}>No model on disk reported.</Empty>}
            {(inventory.data?.models ?? []).map((model) => (
              <tr key={model.id} data-model={model.id}>
                <td class="mono">{model.id}</td>
                <td class="num">{model.size_gb == null ? "—" : `${num(model.size_gb, 1)} GB`}</td>
                <td>{loaded.has(model.id) ? <Badge tone="ok">loaded</Badge> : <Badge tone="muted">on disk</Badge>}</td>
                <td class="actions-col">
                  {loaded.has(model.id) ? (
                    <button type="button" disabled={act.busy} onClick={() => void act.run("unload", model.id)}>
                      Unload
                    </button>
                  ) : (
                    <button type="button" disabled={act.busy} onClick={() => void act.run("load", model.id)}>
                      Load
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** The output of an SSH command: its status and the start of each stream (escaped by Preact). */
function CommandView({ answer }: { answer: SshCommandAnswer }) {
  return (
    <div class="stack-sm">
      <div class="row">
        <span class="strong">{answer.action}</span>
        {answer.ok ? <Badge tone="ok">ok</Badge> : <Badge tone="bad">failed</Badge>}
        <span class="muted">exit status {answer.rc ?? "—"}</span>
      </div>
      {answer.stdout && <pre class="answer">{answer.stdout}</pre>}
      {answer.stderr && <pre class="answer bad-text">{answer.stderr}</pre>}
    </div>
  );
}

/**
 * SSH management of an engine enrolled with an SSH target (src/admin/ssh.ts): the connection test, a Telemak's app
 * lifecycle (`launchctl`), a Linux host's configured service commands, the log's tail. On a server without those
 * routes (404 `unknown_url`) it says so instead.
 */
function SshPanel({ view }: { view: EngineView }) {
  const id = view.id;
  const [test, setTest] = useState<SshConnectionTest | null>(null);
  const [command, setCommand] = useState<SshCommandAnswer | null>(null);
  const [logs, setLogs] = useState<SshLogsAnswer | null>(null);
  const check = useAction(async () =>
    setTest(await api<SshConnectionTest>("GET", `/admin/clusters/${seg(id)}/connection-test`)),
  );
  const lifecycle = useAction(async (action: "start" | "stop" | "restart" | "quit") =>
    setCommand(await api<SshCommandAnswer>("POST", `/admin/clusters/${seg(id)}/telemak/lifecycle`, { action })),
  );
  const service = useAction(async (action: "start" | "stop" | "status") =>
    setCommand(await api<SshCommandAnswer>("POST", `/admin/clusters/${seg(id)}/service`, { action })),
  );
  const tail = useAction(async () =>
    setLogs(await api<SshLogsAnswer>("GET", `/admin/clusters/${seg(id)}/logs?tail=200`)),
  );
  const error = check.error ?? lifecycle.error ?? service.error ?? tail.error;
  const missing = error instanceof ApiError && error.status === 404 && error.code === "unknown_url";
  const busy = check.busy || lifecycle.busy || service.busy || tail.busy;
  const commands = view.ssh_commands ?? null;
  const files = new Set(logs?.data.map((line) => line.file));
  return (
    <Card title="SSH management" id="ssh">
      <div class="row">
        <span class="muted">
          as <span class="mono">{view.ssh}</span>
          {view.ssh_key_source ? ` · key: ${view.ssh_key_source}` : ""}
        </span>
        <button type="button" disabled={busy} onClick={() => void check.run()}>
          {check.busy ? "Testing…" : "Test connection"}
        </button>
        {view.ssh_log !== null && (
          <button type="button" disabled={busy} onClick={() => void tail.run()}>
            {tail.busy ? "Reading…" : "Show log"}
          </button>
        )}
      </div>
      {view.kind === "telemak" && (
        <div class="row">
          <span class="muted small">Telemak app (launchctl):</span>
          {(["start", "stop", "restart"] as const).map((action) => (
            <button key={action} type="button" disabled={busy} onClick={() => void lifecycle.run(action)}>
              {action[0]?.toUpperCase()}
              {action.slice(1)}
            </button>
          ))}
          <ConfirmButton
            label="Quit"
            confirm="Quit the app?"
            disabled={busy}
            onConfirm={() => void lifecycle.run("quit")}
          />
        </div>
      )}
      {commands && (
        <div class="row">
          <span class="muted small">Service (configured commands):</span>
          {(["status", "start", "stop"] as const)
            .filter((action) => commands[action])
            .map((action) => (
              <button
                key={action}
                type="button"
                disabled={busy}
                title={commands[action]}
                onClick={() => void service.run(action)}
              >
                {action[0]?.toUpperCase()}
                {action.slice(1)}
              </button>
            ))}
        </div>
      )}
      {missing ? (
        <p class="note note-bad">This Ithaca has no SSH management routes: nothing can be done over SSH from here.</p>
      ) : (
        <ErrorNote error={error} />
      )}
      {test && (
        <Facts
          items={[
            ["Connection", <Badge tone={test.ok ? "ok" : "bad"}>{test.ok ? "ok" : "failed"}</Badge>],
            ["Latency", `${duration(test.latency_ms)}${test.reused ? " (connection reused)" : ""}`],
            ["Host name", test.hostname ?? "—"],
            ["Memory", test.ram_gb === null ? "—" : `${num(test.ram_gb, 1)} GB`],
            ["Host key", <span class="mono">{test.host_key ?? "—"}</span>],
          ]}
        />
      )}
      {command && <CommandView answer={command} />}
      {logs && (
        <div class="stack-sm">
          <div class="muted small">
            <span class="mono">{logs.path}</span> — last {logs.data.length} lines{logs.truncated ? " (truncated)" : ""}
          </div>
          <pre class="answer logs">
            {logs.data
              .map((line) => (files.size > 1 && line.file ? `${line.file}: ${line.text}` : line.text))
              .join("\n")}
          </pre>
          {logs.stderr && <pre class="answer bad-text">{logs.stderr}</pre>}
        </div>
      )}
    </Card>
  );
}
