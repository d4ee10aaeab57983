/**
 * Operating an enrolled Telemak through its own admin API (telemak-companion-wire §1.8-§1.9; odyssai-x-wire §3.3,
 * §3.4): its status gathered from `/health`, `/admin/activity`, `/admin/sessions`, `/admin/memory` and `/v1/models`
 * in parallel (any of them may be missing on another engine: that part is null), its on-disk inventory
 * (`/admin/models/available`), and loading or unloading a model (`/admin/load`, `/admin/unload`).
 */
import { readCapped } from "../backends/http/body-bytes.ts";
import { engineAccess } from "./engine-probe.ts";
import { OpenAIError, upstreamHttpError, upstreamUnreachable } from "../protocol/errors.ts";

/** The most of a Telemak's admin answer read, in bytes: beyond it the answer is not JSON (null, or a 502). */
export const OPS_BODY_LIMIT_BYTES = 1024 ** 2;
/** Deadline of each status request, in ms (OdyssAI-X: 4 s). */
export const STATUS_TIMEOUT_MS = 4_000;
/** Deadline of a load, in ms (Telemak loads synchronously; OdyssAI-X waits 300 s). */
export const LOAD_TIMEOUT_MS = 300_000;
/** Deadline of an unload, in ms. */
export const UNLOAD_TIMEOUT_MS = 60_000;

/** Where a Telemak's admin API is and how to authenticate to it. */
export interface TelemakTarget {
  /** The engine's id, named in errors. */
  id: string;
  /** The engine's base URL (`http://host:8003/v1`); its admin API is at the origin. */
  baseUrl: string;
  apiKey?: string;
}

/** A Telemak's status: the §3.3 shape, `busy` from the current phase. */
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

type Json = Record<string, unknown>;

const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/** `target`'s base URL, the origin of its admin API, and the headers of every request to it. */
function adminOf(target: TelemakTarget): { base: string; origin: string; headers: Record<string, string> } {
  const { base, headers } = engineAccess(target.baseUrl, target.apiKey);
  return { base, origin: new URL(base).origin, headers };
}

/** GET `path` as a JSON object, or null when it fails in any way. */
async function tryGet(origin: string, path: string, headers: Record<string, string>): Promise<Json | null> {
  try {
    const response = await fetch(`${origin}${path}`, {
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return null;
    }
    const value: unknown = JSON.parse(await readCapped(response, OPS_BODY_LIMIT_BYTES));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

/** The status of a Telemak (see {@link TelemakStatus}); never throws: what does not answer is null. */
export async function telemakStatus(target: TelemakTarget): Promise<TelemakStatus> {
  const { base, origin, headers } = adminOf(target);
  const [health, activity, sessions, memory, models] = await Promise.all([
    tryGet(origin, "/health", headers),
    tryGet(origin, "/admin/activity", headers),
    tryGet(origin, "/admin/sessions", headers),
    tryGet(origin, "/admin/memory", headers),
    tryGet(base, "/models", headers),
  ]);
  const listed = Array.isArray(models?.data) ? (models.data as Json[]).map((m) => String(m.id)) : null;
  const fromHealth = Array.isArray(health?.models_loaded) ? (health.models_loaded as unknown[]).map(String) : null;
  const loaded = listed ?? fromHealth ?? [];
  const phase = str(activity?.current_phase);
  const sessionRows = Array.isArray(sessions?.sessions) ? (sessions.sessions as Json[]) : [];
  return {
    cluster: target.id,
    upstream_reachable: health !== null || models !== null,
    loaded: loaded.length > 0,
    models_loaded: loaded,
    busy: phase !== null && phase !== "idle",
    current_phase: phase,
    current_model: str(activity?.current_model),
    current_tok_s: num(activity?.current_tok_s),
    active_requests: num(activity?.active_requests),
    last_error: str(activity?.last_error),
    version: str(health?.version),
    uptime_s: num(health?.uptime_s),
    requests_served: num(health?.requests_served),
    avg_tok_s_recent: num(health?.avg_tok_s_recent),
    memory: memory
      ? {
          used_gb: num(memory.used_gb),
          free_gb: num(memory.free_gb),
          total_gb: num(memory.total_gb),
          ceiling_gb: num(memory.ceiling_gb),
        }
      : null,
    sessions: sessionRows.map((row) => ({
      id: String(row.id),
      model: str(row.model),
      kv_size_mb: num(row.kv_size_mb),
      last_used_s: num(row.last_used_s),
    })),
  };
}

/**
 * Calls a Telemak's admin API and returns its JSON answer.
 * @throws OpenAIError 502 naming the engine when it cannot be reached or sends no JSON object; the engine's own
 *   status and message for an error answer (`insufficient_memory` 400, `model_load_failed` 503...).
 */
async function call(target: TelemakTarget, method: string, path: string, body: unknown, timeoutMs: number) {
  const { origin, headers } = adminOf(target);
  let response: Response;
  try {
    response = await fetch(`${origin}${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw upstreamUnreachable(target.id, error);
  }
  const text = await readCapped(response, OPS_BODY_LIMIT_BYTES);
  if (!response.ok) throw upstreamHttpError(target.id, response.status, text);
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Json;
  } catch {
    // Not JSON: below.
  }
  throw new OpenAIError(502, `upstream '${target.id}' sent an invalid answer to ${method} ${path}`, {
    code: "upstream_invalid_response",
  });
}

/** The Telemak's on-disk inventory (`GET /admin/models/available`): `{models: [...]}` as it sends it. */
export function telemakInventory(target: TelemakTarget): Promise<Json> {
  return call(target, "GET", "/admin/models/available", undefined, STATUS_TIMEOUT_MS);
}

/** Loads `model` on the Telemak (synchronous there: resolves when it is loaded). */
export function telemakLoad(target: TelemakTarget, model: string): Promise<Json> {
  return call(target, "POST", "/admin/load", { model }, LOAD_TIMEOUT_MS);
}

/** Unloads `model`, or every model when absent (`?all=true`, as Telemak reads it). */
export function telemakUnload(target: TelemakTarget, model?: string): Promise<Json> {
  return model === undefined
    ? call(target, "POST", "/admin/unload?all=true", undefined, UNLOAD_TIMEOUT_MS)
    : call(target, "POST", "/admin/unload", { model }, UNLOAD_TIMEOUT_MS);
}
