/**
 * session — the conversation a request belongs to (DESIGN §2 step 3; reference/odyssai-x-wire.md §5.1).
 *
 * Reads the `X-Session-Id` header or the `session_id` body field; the header wins. On `/v1/messages*` the
 * Anthropic `metadata.user_id` and `metadata.session_id` count too, after those. Blank values count as absent.
 * Backends get it as `BackendCallContext.sessionId` (prefix-cache scope, upstream forwarding) and routing policies as
 * `RoutingRequest.sessionId` (keep a conversation on the replica holding its cache).
 *
 * Context: `sessionId: string | undefined`.
 */
import { Elysia } from "elysia";
import { dialectOf, requestPath } from "../src/protocol/dialect.ts";

function clean(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : undefined;
}

/**
 * The session id of a request.
 * @param header the `X-Session-Id` header value, if any.
 * @param body the parsed JSON body (any value).
 * @param anthropic the request is on `/v1/messages*`: `metadata.user_id`, then `metadata.session_id`, also count
 *   (Claude Code puts its session in `metadata.user_id`; odyssai-x-wire §1.6).
 */
export function sessionIdOf(header: string | null | undefined, body: unknown, anthropic = false): string | undefined {
  if (body === null || typeof body !== "object") return clean(header);
  const fields = body as { session_id?: unknown; metadata?: { user_id?: unknown; session_id?: unknown } | null };
  const metadata = anthropic && typeof fields.metadata === "object" ? fields.metadata : undefined;
  return clean(header) ?? clean(fields.session_id) ?? clean(metadata?.user_id) ?? clean(metadata?.session_id);
}

/** The session plugin (see the module comment). */
export function sessionPlugin() {
  return new Elysia({ name: "ithaca:session" }).derive({ as: "global" }, ({ request, body }) => ({
    sessionId: sessionIdOf(request.headers.get("x-session-id"), body, dialectOf(requestPath(request)) === "anthropic"),
  }));
}
