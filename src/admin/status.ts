/**
 * `GET /admin/status` (odyssai-x-wire §1.2, behind the admin token): what is loaded, loading and serving, per engine,
 * from the catalog (cached; a read never probes an engine on its own) and the runs in flight.
 *
 * `{loaded, loading, model, in_flight, engines, pools}`: `loaded` — some model can answer now; `loading` — a local
 * model is loading; `model` — the first local model loaded (OdyssAI-X's single-pool `model`), else null; `engines` —
 * one per backend (`local`, then upstreams and providers): `{id, backend, kind, available, in_flight, loaded,
 * loading, serving, models: [{id, ready, state, in_flight}]}` (`state` `loaded`, `loading`, `unloading`, `unloaded`
 * for local models; `ready` or `not_ready` for an upstream's); `pools` — OdyssAI-X's view, one per model that can
 * answer: `{cluster, alias, model (the engine's own id), nodes, alive}`.
 */
import type { AnyElysia } from "elysia";
import type { Catalog, CatalogEntry } from "../catalog/catalog.ts";
import type { Runs } from "../routes/runs.ts";

/** One model of an engine as the status shows it. */
interface ModelStatus {
  id: string;
  ready: boolean;
  state: string;
  in_flight: number;
}

/** One engine as the status shows it. */
interface EngineStatus {
  /** `local` or the upstream's id. */
  id: string;
  backend: string;
  kind: string;
  available: boolean;
  in_flight: number;
  loaded: string[];
  loading: string[];
  /** Models answering requests now. */
  serving: string[];
  models: ModelStatus[];
}

/** A model's state: the local engine's own, else whether the upstream serves it now. */
function stateOf(entry: CatalogEntry): string {
  const state = entry.model.details?.state;
  if (typeof state === "string") return state;
  return entry.model.ready ? "ready" : "not_ready";
}

/** The status document (see the module comment). */
export async function status(catalog: Catalog, runs: Runs) {
  const inFlight = new Map<string, number>();
  const key = (backend: string | null, model: string | null) => `${backend}\n${model}`;
  for (const run of runs.inFlight()) {
    const k = key(run.backend, run.servedModel);
    inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
  }
  const engines = new Map<string, EngineStatus>();
  const pools: { cluster: string; alias: string; model: string; nodes: number; alive: boolean }[] = [];
  for (const entry of await catalog.entries()) {
    const { backend, model } = entry;
    let engine = engines.get(backend.id);
    if (engine === undefined) {
      engine = {
        id: backend.id.replace(/^upstream:/, ""),
        backend: backend.id,
        kind: backend.kind,
        available: backend.available?.() ?? true,
        in_flight: 0,
        loaded: [],
        loading: [],
        serving: [],
        models: [],
      };
      engines.set(backend.id, engine);
    }
    const state = stateOf(entry);
    const running = inFlight.get(key(backend.id, model.id)) ?? 0;
    engine.models.push({ id: model.id, ready: model.ready, state, in_flight: running });
    engine.in_flight += running;
    if (model.ready) {
      engine.loaded.push(model.id);
      pools.push({ cluster: engine.id, alias: model.id, model: model.upstreamId, nodes: 1, alive: engine.available });
    }
    if (state === "loading") engine.loading.push(model.id);
    if (running > 0) engine.serving.push(model.id);
  }
  const list = [...engines.values()];
  const local = engines.get("local");
  return {
    loaded: list.some((engine) => engine.loaded.length > 0),
    loading: list.some((engine) => engine.loading.length > 0),
    model: local?.loaded[0] ?? null,
    in_flight: runs.size,
    engines: list,
    pools,
  };
}

/** The route (see the module comment). */
export function adminStatusRoutes(catalog: Catalog, runs: Runs) {
  return (app: AnyElysia) =>
    app.get("/admin/status", () => status(catalog, runs), {
      detail: { summary: "What is loaded, loading and serving, per engine (admin)", tags: ["Admin"] },
    });
}
