/**
 * Access: API keys (`/admin/keys`: create — the key is shown this once —, limits, rotate, revoke), the discovery gate
 * (`/admin/discovery/*`: open for a while, with its countdown, or close) and the paired clients (`/admin/crew`: revoke).
 */
import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { useAction, useNow, usePoll } from "../hooks.ts";
import type { CreatedKey, CrewView, GateState, KeyView, List } from "../types.ts";
import { ago, Badge, Card, ConfirmButton, Empty, ErrorNote, num } from "../ui.tsx";

export function AccessPage() {
  return (
    <div class="page">
      <ApiKeys />
      <div class="two-cols">
        <DiscoveryGate />
        <PairedClients />
      </div>
    </div>
  );
}

/** A limit field: empty is "no limit" (null). */
const limitOf = (text: string): number | null => (text.trim() === "" ? null : Number(text));

/** `"studio:*, qwen3-4b"` → `["studio:*", "qwen3-4b"]`; empty → every model. */
const modelsOf = (text: string): string[] => {
  const list = text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  return list.length === 0 ? ["*"] : list;
};

interface KeyForm {
  name: string;
  models: string;
  rpm: string;
  tpm: string;
  max_concurrent: string;
  expires: string;
}

const EMPTY_KEY: KeyForm = { name: "", models: "*", rpm: "", tpm: "", max_concurrent: "", expires: "" };

function ApiKeys() {
  const keys = usePoll(() => api<List<KeyView>>("GET", "/admin/keys"), 10000);
  const [form, setForm] = useState<KeyForm>(EMPTY_KEY);
  /** The secret just issued (or rotated): shown until dismissed, then gone for good. */
  const [issued, setIssued] = useState<CreatedKey | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const set = (field: keyof KeyForm) => (event: { currentTarget: HTMLInputElement }) =>
    setForm({ ...form, [field]: event.currentTarget.value });

  const create = useAction(async () => {
    const body: Record<string, unknown> = { name: form.name.trim(), models: modelsOf(form.models) };
    for (const field of ["rpm", "tpm", "max_concurrent"] as const) {
      const limit = limitOf(form[field]);
      if (limit !== null) body[field] = limit;
    }
    if (form.expires) body.expires_at = new Date(form.expires).toISOString();
    setIssued(await api<CreatedKey>("POST", "/admin/keys", body));
    setForm(EMPTY_KEY);
    await keys.reload();
  });
  const rotate = useAction(async (id: string) => {
    setIssued(await api<CreatedKey>("POST", `/admin/keys/${seg(id)}/rotate`));
    await keys.reload();
  });
  const revoke = useAction(async (id: string) => {
    await api("DELETE", `/admin/keys/${seg(id)}`);
    if (issued?.id === id) setIssued(null);
    await keys.reload();
  });
  const list = keys.data?.data ?? [];

  return (
    <Card title="API keys">
      <form
        class="key-form"
        aria-label="Create an API key"
        onSubmit={(event) => {
          event.preventDefault();
          void create.run();
        }}
      >
        <label class="field">
          <span>Name</span>
          <input name="key-name" value={form.name} onInput={set("name")} required placeholder="anna-laptop" />
        </label>
        <label class="field wide">
          <span>Models</span>
          <input
            name="key-models"
            value={form.models}
            onInput={set("models")}
            placeholder="studio:*, qwen3-4b"
            title="Model ids or globs, comma-separated: * every model"
          />
        </label>
        <label class="field narrow">
          <span>Req/min</span>
          <input name="key-rpm" type="number" min={1} value={form.rpm} onInput={set("rpm")} placeholder="∞" />
        </label>
        <label class="field narrow">
          <span>Tokens/min</span>
          <input name="key-tpm" type="number" min={1} value={form.tpm} onInput={set("tpm")} placeholder="∞" />
        </label>
        <label class="field narrow">
          <span>At once</span>
          <input
            name="key-concurrent"
            type="number"
            min={1}
            value={form.max_concurrent}
            onInput={set("max_concurrent")}
            placeholder="∞"
          />
        </label>
        <label class="field">
          <span>Expires</span>
          <input name="key-expires" type="datetime-local" value={form.expires} onInput={set("expires")} />
        </label>
        <button type="submit" class="primary" disabled={create.busy}>
          {create.busy ? "Creating…" : "Create key"}
        </button>
      </form>
      <ErrorNote error={create.error ?? rotate.error ?? revoke.error ?? keys.error} />
      {issued && (
        <div class="note note-ok new-key" role="status" aria-label="New key">
          <div>
            <strong>Key for {issued.name}</strong> — copy it now: it is shown this once and cannot be retrieved later.
          </div>
          <div class="row">
            <input class="mono key-secret" readOnly value={issued.key} aria-label="The new key" />
            <button type="button" onClick={() => void navigator.clipboard?.writeText(issued.key)}>
              Copy
            </button>
            <button type="button" class="primary" onClick={() => setIssued(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <div class="table-wrap">
        <table class="table" aria-label="API keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Models</th>
              <th class="num">Req/min</th>
              <th class="num">Tokens/min</th>
              <th class="num">At once</th>
              <th>Expires</th>
              <th>Created</th>
              <th class="actions-col" />
            </tr>
          </thead>
          <tbody>
            {list.length === 0 && <Empty cols={9}>No key issued: /v1 is open to anyone who can reach it.</Empty>}
            {list.map((key) =>
              editing === key.id ? (
                <EditKey key={key.id} view={key} onDone={() => setEditing(null)} onSaved={keys.reload} />
              ) : (
                <tr key={key.id} data-key={key.id}>
                  <td class="strong">{key.name}</td>
                  <td class="mono">{key.key_preview}</td>
                  <td class="mono small">{key.models.join(", ") || "none"}</td>
                  <td class="num">{num(key.rpm)}</td>
                  <td class="num">{num(key.tpm)}</td>
                  <td class="num">{num(key.max_concurrent)}</td>
                  <td>
                    {key.expired ? (
                      <Badge tone="bad">expired</Badge>
                    ) : key.expires_at ? (
                      new Date(key.expires_at).toLocaleDateString("en-GB")
                    ) : (
                      "never"
                    )}
                  </td>
                  <td>{ago(key.created_at)}</td>
                  <td class="actions-col">
                    <button type="button" onClick={() => setEditing(key.id)}>
                      Limits
                    </button>
                    <ConfirmButton
                      label="Rotate"
                      confirm="Rotate?"
                      title="A new secret; the old one stops working at once"
                      onConfirm={() => void rotate.run(key.id)}
                    />
                    <ConfirmButton label="Revoke" confirm="Revoke?" onConfirm={() => void revoke.run(key.id)} />
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

/** A key's row while its models and limits are edited (`PATCH /admin/keys/{id}`; empty lifts a limit). */
function EditKey({ view, onDone, onSaved }: { view: KeyView; onDone: () => void; onSaved: () => Promise<void> }) {
  const show = (value: number | null) => (value === null ? "" : String(value));
  const [models, setModels] = useState(view.models.join(", "));
  const [rpm, setRpm] = useState(show(view.rpm));
  const [tpm, setTpm] = useState(show(view.tpm));
  const [concurrent, setConcurrent] = useState(show(view.max_concurrent));
  const save = useAction(async () => {
    await api("PATCH", `/admin/keys/${seg(view.id)}`, {
      models: modelsOf(models),
      rpm: limitOf(rpm),
      tpm: limitOf(tpm),
      max_concurrent: limitOf(concurrent),
    });
    await onSaved();
    onDone();
  });
  return (
    <tr class="editing">
      <td class="strong">{view.name}</td>
      <td class="mono">{view.key_preview}</td>
      <td>
        <input aria-label="Models" value={models} onInput={(event) => setModels(event.currentTarget.value)} />
      </td>
      <td>
        <input aria-label="Req/min" type="number" min={1} value={rpm} onInput={(e) => setRpm(e.currentTarget.value)} />
      </td>
      <td>
        <input
          aria-label="Tokens/min"
          type="number"
          min={1}
          value={tpm}
          onInput={(e) => setTpm(e.currentTarget.value)}
        />
      </td>
      <td>
        <input
          aria-label="At once"
          type="number"
          min={1}
          value={concurrent}
          onInput={(e) => setConcurrent(e.currentTarget.value)}
        />
      </td>
      <td colSpan={2}>{save.error && <span class="bad-text small">{save.error.message}</span>}</td>
      <td class="actions-col">
        <button type="button" class="primary" disabled={save.busy} onClick={() => void save.run()}>
          Save
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </td>
    </tr>
  );
}

const DURATIONS: Array<[number, string]> = [
  [60, "1 min"],
  [300, "5 min"],
  [900, "15 min"],
  [3600, "1 hour"],
];

/** `m:ss` */
const countdown = (ms: number) => {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
};

function DiscoveryGate() {
  const gate = usePoll(() => api<GateState>("GET", "/admin/discovery/state"), 5000);
  const [seconds, setSeconds] = useState(300);
  const now = useNow(1000);
  const toggle = useAction(async (open: boolean) => {
    await api(
      "POST",
      open ? "/admin/discovery/enable" : "/admin/discovery/disable",
      open ? { duration_s: seconds } : {},
    );
    await gate.reload();
  });
  const expires = gate.data?.expires_at ? Date.parse(gate.data.expires_at) : null;
  const open = gate.data?.active === true && expires !== null && expires > now;
  return (
    <Card title="Discovery gate">
      <p class="muted small">
        While the gate is open, a client on the network (Companion's “Join”) can pair itself and get a crew token.
        Pairing closes it again.
      </p>
      <ErrorNote error={gate.error ?? toggle.error} />
      <div class="gate-state" aria-live="polite">
        {open && expires !== null ? (
          <>
            <Badge tone="warn">open</Badge> closes in <span class="countdown mono">{countdown(expires - now)}</span>
          </>
        ) : (
          <Badge tone="muted">closed</Badge>
        )}
      </div>
      <div class="row">
        {open ? (
          <button type="button" class="danger" disabled={toggle.busy} onClick={() => void toggle.run(false)}>
            Close the gate
          </button>
        ) : (
          <>
            <select
              aria-label="Open for"
              value={String(seconds)}
              onChange={(event) => setSeconds(Number(event.currentTarget.value))}
            >
              {DURATIONS.map(([value, label]) => (
                <option key={value} value={String(value)}>
                  {label}
                </option>
              ))}
            </select>
            <button type="button" class="primary" disabled={toggle.busy} onClick={() => void toggle.run(true)}>
              Open the gate
            </button>
          </>
        )}
      </div>
    </Card>
  );
}

function PairedClients() {
  const crew = usePoll(() => api<List<CrewView>>("GET", "/admin/crew"), 5000);
  const now = useNow(10000);
  const revoke = useAction(async (id: string) => {
    await api("DELETE", `/admin/crew/${seg(id)}`);
    await crew.reload();
  });
  const list = crew.data?.data ?? [];
  return (
    <Card title="Paired clients">
      <ErrorNote error={crew.error ?? revoke.error} />
      <table class="table compact" aria-label="Paired clients">
        <thead>
          <tr>
            <th>Client</th>
            <th>Token</th>
            <th>Paired</th>
            <th>Last seen</th>
            <th class="actions-col" />
          </tr>
        </thead>
        <tbody>
          {list.length === 0 && <Empty cols={5}>No paired client.</Empty>}
          {list.map((member) => (
            <tr key={member.id} data-crew={member.id}>
              <td>
                <div class="strong">{member.client_name}</div>
                <div class="muted small mono">
                  {member.client_id}
                  {member.user_label ? ` · ${member.user_label}` : ""}
                </div>
              </td>
              <td class="mono">{member.token_preview}</td>
              <td>{ago(member.created_at, now)}</td>
              <td>{ago(member.last_seen_at, now)}</td>
              <td class="actions-col">
                <ConfirmButton label="Revoke" confirm="Revoke?" onConfirm={() => void revoke.run(member.id)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
