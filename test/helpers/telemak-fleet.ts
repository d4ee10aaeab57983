/**
 * The setup of the telemak-companion-wire §9 checklist tests: a real Ithaca (with an API key, as a paired Companion
 * would meet it) in front of two emulated Telemaks enrolled through `/admin/clusters` — `studio` serving one model
 * (Qwen3-4B), `duo` serving several (Qwen3-4B, Qwen3.6-27B with a pre-opened think block, Step-3.7, an embedder).
 */
import OpenAI from "openai";
import { FakeTelemak } from "./fake-telemak.ts";
import { jsonCall } from "./json-call.ts";
import { type RunningIthaca, startIthaca } from "./start.ts";

/** The API key the checklist's clients use. */
export const KEY = "sk-checklist";
/** The browser origin allowed by CORS. */
export const CORS_ORIGIN = "http://companion.local";
/** The admin token. */
export const ADMIN = "admin-checklist";

export interface TelemakFleet {
  server: RunningIthaca;
  studio: FakeTelemak;
  duo: FakeTelemak;
  /** An openai SDK client of Ithaca. */
  openai: OpenAI;
  /** A JSON call to Ithaca with the API key (the admin token for `/admin/*`): `{status, json, headers}`. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): ReturnType<typeof jsonCall>;
  /** A raw POST with the key (for reading the bytes of a stream). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** Starts Ithaca and enrols the two Telemaks (see the module comment). */
export async function startTelemakFleet(): Promise<TelemakFleet> {
  const studio = new FakeTelemak();
  const duo = new FakeTelemak();
  duo.available.set("stepfun-ai/Step-3.7-Flash-4bit", 9);
  for (const model of [
    "mlx-community/Qwen3.6-27B-4bit",
    "mlx-community/Qwen3-Embedding-0.6B-4bit",
    "stepfun-ai/Step-3.7-Flash-4bit",
  ]) {
    duo.loaded.add(model);
  }
  const server = await startIthaca(
    { auth: { api_keys: [KEY], admin_token_env: "CHECKLIST_ADMIN" }, server: { cors_origins: [CORS_ORIGIN] } },
    { env: { CHECKLIST_ADMIN: ADMIN } },
  );
  const auth = { authorization: `Bearer ${KEY}` };
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const bearer = path.startsWith("/admin/") ? { authorization: `Bearer ${ADMIN}` } : auth;
    return jsonCall(server.url, method, path, body, { ...bearer, ...headers });
  };
  for (const [id, engine, name] of [
    ["studio", studio, "Studio"],
    ["duo", duo, "Duo"],
  ] as const) {
    const put = await call("PUT", `/admin/clusters/${id}`, { kind: "telemak", upstream: engine.url, name });
    if (put.status !== 200) throw new Error(`enrolling ${id} failed: ${JSON.stringify(put.json)}`);
  }
  return {
    server,
    studio,
    duo,
    openai: new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0 }),
    call,
    post: (path, body, headers = {}) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth, ...headers },
        body: JSON.stringify(body),
      }),
    close: async () => {
      await server.close();
      studio.stop();
      duo.stop();
    },
  };
}
