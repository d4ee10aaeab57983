/**
 * Local models: the MLX models of this machine (configured and in the inventory directory), loaded and unloaded
 * through `/admin/models`, the memory budget as a bar (what each loaded model reserves), and the prefix-cache
 * sessions (`/admin/sessions`) with clear.
 */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { useAction, useNow, usePoll } from "../hooks.ts";
import type { LocalModelsAnswer, MemoryUse, ModelView, SessionsAnswer } from "../types.ts";
import { ago, Badge, bytes, Card, ConfirmButton, Empty, ErrorNote, num, type Tone } from "../ui.tsx";

const STATE_TONE: Record<string, Tone> = { loaded: "ok", loading: "warn", unloading: "warn", unloaded: "muted" };

/** Colours of the loaded models' segments of the budget bar. */
const SEGMENTS = ["seg-0", "seg-1", "seg-2", "seg-3", "seg-4", "seg-5"];

/** The memory budget: one segment per model holding a reservation, then what is free. */
function MemoryBar({ memory, models }: { memory: MemoryUse; models: ModelView[] }) {
  const holding = models.filter((model) => model.state !== "unloaded" && model.estimated_bytes !== null);
  const total = Math.max(memory.budget_bytes, memory.reserved_bytes, 1);
  const share = (value: number) => `${((value / total) * 100).toFixed(2)}%`;
  return (
    <div class="budget">
      <div class="budget-track" aria-hidden="true">
        {holding.map((model, i) => (
          <div
            key={model.id}
            class={`budget-seg ${SEGMENTS[i % SEGMENTS.length]}`}
            style={{ width: share(model.estimated_bytes ?? 0) }}
            title={`${model.id}: ${bytes(model.estimated_bytes)}`}
          />
        ))}
      </div>
      <div class="budget-legend">
        <span class="strong">
          {bytes(memory.reserved_bytes)} reserved of {bytes(memory.budget_bytes)}
        </span>
        <span class="muted">({bytes(memory.free_bytes)} free)</span>
        {holding.map((model, i) => (
          <span key={model.id} class="legend-item">
            <span class={`legend-dot ${SEGMENTS[i % SEGMENTS.length]}`} />
            <span class="mono">{model.id}</span> {bytes(model.estimated_bytes)}
          </span>
        ))}
      </div>
    </div>
  );
}

export function LocalModelsPage() {
  const models = usePoll(() => api<LocalModelsAnswer>("GET", "/admin/models"), 3000);
  const sessions = usePoll(() => api<SessionsAnswer>("GET", "/admin/sessions"), 5000);
  const now = useNow(5000);
  const [pending, setPending] = useState<string | null>(null);
  const act = useAction(async (action: "load" | "unload", model: string) => {
    setPending(model);
    try {
      await api("POST", `/admin/models/${action}`, { model });
      await Promise.all([models.reload(), sessions.reload()]);
    } finally {
      setPending(null);
    }
  });
  const clear = useAction(async (body: { session_id?: string; model?: string }) => {
    await api("POST", "/admin/sessions/clear", body);
    await sessions.reload();
  });
  const answer = models.data;

  if (answer && answer.engine === null) {
    return (
      <div class="page">
        <Card title="Local models">
          <p class="muted">
            No local engine: this Ithaca runs no MLX model. Configure <span class="mono">models:</span> or{" "}
            <span class="mono">engine.models_dir</span> in ithaca.yaml (or start it with{" "}
            <span class="mono">--model DIR</span>).
          </p>
        </Card>
      </div>
    );
  }

  return (
    <div class="page">
      <Card title="Memory budget">
        <ErrorNote error={models.error} />
        {answer?.memory ? <MemoryBar memory={answer.memory} models={answer.data} /> : <p class="muted">…</p>}
        {answer?.engine && (
          <p class="muted small">
            {answer.engine.models_dir ? (
              <>
                Inventory <span class="mono">{answer.engine.models_dir}</span> ·{" "}
              </>
            ) : null}
            load on demand {answer.engine.load_on_demand ? "on" : "off"} · idle unload{" "}
            {answer.engine.idle_ttl_s > 0 ? `after ${answer.engine.idle_ttl_s} s` : "never"} ·{" "}
            {answer.engine.max_active} at once per model, {answer.engine.max_queue} queued
          </p>
        )}
      </Card>
      <Card title="Models">
        <ErrorNote error={act.error} onClose={act.clearError} />
        <div class="table-wrap">
          <table class="table" aria-label="Local models">
            <thead>
              <tr>
                <th>Model</th>
                <th>State</th>
                <th>Architecture</th>
                <th class="num">Context</th>
                <th class="num">Weights</th>
                <th class="num">KV reserve</th>
                <th class="num">In flight</th>
                <th>Last used</th>
                <th class="actions-col" />
              </tr>
            </thead>
            <tbody>
              {answer && answer.data.length === 0 && <Empty cols={9}>No local model.</Empty>}
              {(answer?.data ?? []).map((model) => (
                <tr key={model.id} data-model={model.id}>
                  <td>
                    <div class="mono strong">{model.id}</div>
                    <div class="muted small">
                      {model.source}
                      {model.aliases.length > 0 ? ` · aliases ${model.aliases.join(", ")}` : ""}
                    </div>
                    {model.error && <div class="bad-text small">{model.error}</div>}
                  </td>
                  <td>
                    <Badge tone={STATE_TONE[model.state] ?? "muted"}>{model.state}</Badge>
                  </td>
                  <td>
                    {model.arch ?? "—"}
                    <div class="muted small">
                      {model.quantization ? `${model.quantization.bits}-bit` : (model.dtype ?? "")}
                    </div>
                  </td>
                  <td class="num">{num(model.context_length)}</td>
                  <td class="num">{bytes(model.weight_bytes)}</td>
                  <td class="num">{bytes(model.kv_reserve_bytes)}</td>
                  <td class="num">{model.in_flight}</td>
                  <td>{ago(model.last_used_at, now)}</td>
                  <td class="actions-col">
                    {model.state === "loaded" || model.state === "loading" ? (
                      <button
                        type="button"
                        disabled={act.busy || model.state === "loading"}
                        onClick={() => void act.run("unload", model.id)}
                      >
                        {pending === model.id ? "Unloading…" : "Unload"}
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="primary"
                        disabled={act.busy || model.error !== null || model.state === "unloading"}
                        onClick={() => void act.run("load", model.id)}
                      >
                        {pending === model.id ? "Loading…" : "Load"}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <Card
        title="Prefix-cache sessions"
        actions={
          (sessions.data?.data.length ?? 0) > 0 && (
            <ConfirmButton label="Clear all" confirm="Clear all?" onConfirm={() => void clear.run({})} />
          )
        }
      >
        <ErrorNote error={sessions.error ?? clear.error} />
        {(sessions.data?.models ?? []).length > 0 && (
          <div class="row small">
            {(sessions.data?.models ?? []).map((m) => (
              <span key={m.model} class="muted">
                <span class="mono">{m.model}</span>: {m.entries} kept
                {m.max_entries !== null ? ` of ${m.max_entries}` : ""}, {bytes(m.bytes)}
                {m.max_bytes !== null ? ` of ${bytes(m.max_bytes)}` : ""}
              </span>
            ))}
          </div>
        )}
        <div class="table-wrap">
          <table class="table" aria-label="Prefix-cache sessions">
            <thead>
              <tr>
                <th>Session</th>
                <th>Model</th>
                <th>Caller scope</th>
                <th class="num">Tokens</th>
                <th class="num">Size</th>
                <th>Last use</th>
                <th class="actions-col" />
              </tr>
            </thead>
            <tbody>
              {(sessions.data?.data ?? []).length === 0 && <Empty cols={7}>No kept KV cache.</Empty>}
              {(sessions.data?.data ?? []).map((entry, i) => (
                <tr key={`${entry.model}-${entry.cache_scope}-${entry.id ?? `shared-${i}`}`}>
                  <td class="mono">{entry.id ?? <span class="muted">shared prefix</span>}</td>
                  <td class="mono">{entry.model}</td>
                  <td class="mono small">{entry.cache_scope}</td>
                  <td class="num">{num(entry.tokens)}</td>
                  <td class="num">{bytes(entry.bytes)}</td>
                  <td>{ago(entry.last_use * 1000, now)}</td>
                  <td class="actions-col">
                    <button
                      type="button"
                      disabled={clear.busy}
                      title={entry.id === null ? "Clears every kept cache of this model" : undefined}
                      onClick={() =>
                        void clear.run(
                          entry.id === null ? { model: entry.model } : { session_id: entry.id, model: entry.model },
                        )
                      }
                    >
                      {entry.id === null ? "Clear model" : "Clear"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}
