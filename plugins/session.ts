/**
 * session — the conversation a request belongs to (DESIGN §2 step 3; reference/odyssai-x-wire.md §5.1).
 *
 * Reads the `X-Session-Id` header or the `session_id` body field; the header wins. Blank values count as absent.
 * Backends get it as `BackendCallContext.sessionId` (prefix-cache scope, upstream forwarding) and routing policies as
 * `RoutingRequest.sessionId` (keep a conversation on the replica holding its cache).
 *
 * Context: `sessionId: string | undefined`.
 */
import { Elysia } from "elysia";

function clean(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : undefined;
}

/**
 * The session id of a request.
 * @param header the `X-Session-Id` header value, if any.
 * @param body the parsed JSON body (any value).
 */
export function sessionIdOf(header: string | null | undefined, body: unknown): string | undefined {
  const fromBody =
    body !== null && typeof body === "object" && "session_id" in body ? clean(body.session_id) : undefined;
  return clean(header) ?? fromBody;
}

/** The session plugin (see the module comment). */
export function sessionPlugin() {
  return new Elysia({ name: "ithaca:session" }).derive({ as: "global" }, ({ request, body }) => ({
    sessionId: sessionIdOf(request.headers.get("x-session-id"), body),
  }));
}
