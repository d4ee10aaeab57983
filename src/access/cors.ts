/**
 * CORS for the browser origins the operator lists (`server.cors_origins`; telemak-companion-wire §9 #36), with
 * `@elysiajs/cors`: those origins get `Access-Control-Allow-Origin` (exactly theirs, `Vary: Origin`) and preflights a
 * 204 naming the methods and the headers clients send; every other origin gets no CORS header. With no origin
 * listed the plugin is not installed at all (and costs nothing per request).
 */
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";

/** Request headers a browser client may send: JSON bodies, both dialects' credentials and Ithaca's session id. */
const ALLOWED_HEADERS = "content-type, authorization, x-api-key, x-session-id, anthropic-version, anthropic-beta";

/** Seconds a browser may cache a preflight. */
const PREFLIGHT_MAX_AGE_S = 600;

/** The CORS plugin for `origins` (see the module comment). */
export function corsPlugin(origins: readonly string[]) {
  if (origins.length === 0) return new Elysia({ name: "ithaca:cors" });
  return new Elysia({ name: "ithaca:cors" }).use(
    cors({
      origin: [...origins],
      methods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
      allowedHeaders: ALLOWED_HEADERS,
      maxAge: PREFLIGHT_MAX_AGE_S,
      credentials: false,
      preflight: true,
    }),
  );
}
