/**
 * Catalog: every model clients can ask for, as `GET /v1/models?include_unloaded=true` lists them (read through
 * `GET /admin/catalog`, the same entries for the operator): engine, capabilities, context, whether it is ready.
 */
import { useMemo, useState } from "preact/hooks";
import { api } from "../api.ts";
import { usePoll } from "../hooks.ts";
import type { CatalogAnswer, OpenAIModelEntry } from "../types.ts";
import { Badge, Card, Empty, ErrorNote, num } from "../ui.tsx";

const CAPABILITIES: Array<[string, string]> = [
  ["supports_tools", "tools"],
  ["supports_vision", "vision"],
  ["supports_thinking", "thinking"],
  ["supports_json_mode", "json"],
];

const field = (entry: OpenAIModelEntry, key: string): unknown => entry.x_odyssai[key];
const text = (value: unknown): string => (typeof value === "string" ? value : "");

export function CatalogPage() {
  const catalog = usePoll(() => api<CatalogAnswer>("GET", "/admin/catalog"), 10000);
  const [filter, setFilter] = useState("");
  const [readyOnly, setReadyOnly] = useState(false);
  const all = catalog.data?.data ?? [];
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    return all.filter((entry) => {
      if (readyOnly && field(entry, "ready") !== true) return false;
      if (!needle) return true;
      return [entry.id, entry.root, text(field(entry, "cluster_label")), text(field(entry, "pool"))].some((value) =>
        value.toLowerCase().includes(needle),
      );
    });
  }, [all, filter, readyOnly]);
  const ready = all.filter((entry) => field(entry, "ready") === true).length;

  return (
    <div class="page">
      <Card
        title="Models clients can ask for"
        actions={
          <div class="row">
            <input
              type="search"
              placeholder="Filter models or engines"
              aria-label="Filter"
              value={filter}
              onInput={(event) => setFilter(event.currentTarget.value)}
            />
            <label class="check">
              <input
                type="checkbox"
                checked={readyOnly}
                onChange={(event) => setReadyOnly(event.currentTarget.checked)}
              />{" "}
              ready only
            </label>
          </div>
        }
      >
        <p class="muted small">
          {all.length} models, {ready} ready — what clients see in <span class="mono">/v1/models</span> (a model that is
          not ready is listed with <span class="mono">?include_unloaded=true</span>; an API key sees only the models it
          may use).
        </p>
        <ErrorNote error={catalog.error} />
        <div class="table-wrap">
          <table class="table" aria-label="Catalog">
            <thead>
              <tr>
                <th>Model</th>
                <th>Engine</th>
                <th>Kind</th>
                <th>Capabilities</th>
                <th class="num">Context</th>
                <th>Quantization</th>
                <th>Ready</th>
              </tr>
            </thead>
            <tbody>
              {shown.length === 0 && <Empty cols={7}>{all.length === 0 ? "No model yet." : "No model matches."}</Empty>}
              {shown.map((entry) => {
                const isReady = field(entry, "ready") === true;
                const loading = field(entry, "loading") === true;
                const context = field(entry, "context_length");
                return (
                  <tr key={entry.id} data-model={entry.id}>
                    <td>
                      <div class="mono strong">{entry.id}</div>
                      {entry.root !== entry.id && <div class="muted small mono">{entry.root}</div>}
                    </td>
                    <td>{text(field(entry, "cluster_label")) || text(field(entry, "pool"))}</td>
                    <td>{text(field(entry, "kind"))}</td>
                    <td>
                      <div class="chips">
                        {CAPABILITIES.filter(([key]) => field(entry, key) === true).map(([key, label]) => (
                          <span key={key} class="chip">
                            {label}
                          </span>
                        ))}
                      </div>
                    </td>
                    <td class="num">{typeof context === "number" ? num(context) : "—"}</td>
                    <td>{text(field(entry, "quantization")) || "—"}</td>
                    <td>
                      {isReady ? (
                        <Badge tone="ok">ready</Badge>
                      ) : loading ? (
                        <Badge tone="warn">loading</Badge>
                      ) : (
                        <Badge tone="muted">not ready</Badge>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}
