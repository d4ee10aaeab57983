/**
 * auth — who is calling (DESIGN §2 step 1).
 *
 * - Public routes (`/health`, `/.well-known/*`, `/swagger`) are never gated (OdyssAI-X: public routes never gated;
 *   Companion probes the contract without credentials).
 * - `/admin/*` needs the admin token when one is configured; without one it is open only in open mode.
 * - Everything else (`/v1/*`) needs an API key once any is configured, from `Authorization: Bearer <key>` or
 *   `x-api-key: <key>` (the OpenAI and Anthropic SDK conventions); the admin token is accepted too. With no keys
 *   configured Ithaca runs in open mode (the OdyssAI-X posture: LAN-first, loopback by default).
 * - Secrets are compared in constant time: SHA-256 digests of equal length through `crypto.timingSafeEqual`, every
 *   configured secret checked on every call (do better than OdyssAI-X's plain `!=`).
 * - Rejections happen in `onRequest`, before the body is read, as 401 in the OpenAI error shape with
 *   `WWW-Authenticate: Bearer`.
 *
 * Context: `caller` (`{ role: "open" | "client" | "admin" }`) for the plugins and routes after it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { PUBLIC_ROUTES } from "../src/catalog/contract.ts";
import { OpenAIError } from "../src/protocol/errors.ts";
import { errorResponseFor } from "../src/protocol/dialect.ts";

export interface AuthOptions {
  /** Keys accepted on `/v1/*`; empty: open mode. */
  apiKeys: readonly string[];
  /** Token for `/admin/*`. */
  adminToken?: string;
}

/** Who made a request. */
export interface Caller {
  /** `open`: no credentials needed here; `client`: a valid API key; `admin`: the admin token. */
  role: "open" | "client" | "admin";
  /** Cache scope: requests of one scope may share KV prefixes (`open` in open mode, one per key otherwise). */
  scope: string;
}

/** Whether `path` is one of the contract's public routes (`/x` exactly, or under `/x/*`). */
function isPublic(path: string): boolean {
  return PUBLIC_ROUTES.some((route) => (route.endsWith("/*") ? path.startsWith(route.slice(0, -1)) : path === route));
}

function pathOf(request: Request): string {
  return new URL(request.url).pathname;
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** Constant-time membership test over SHA-256 digests. */
function matchesAny(presented: Buffer, digests: readonly Buffer[]): boolean {
  let found = false;
  for (const candidate of digests) found = timingSafeEqual(presented, candidate) || found;
  return found;
}

/** The secret a request presents: `Authorization: Bearer <secret>` or `x-api-key: <secret>`. */
function presentedSecret(request: Request): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  return bearer?.[1] ?? (request.headers.get("x-api-key")?.trim() || undefined);
}

function unauthorized(message: string, code: string): OpenAIError {
  return new OpenAIError(401, message, { code, headers: { "www-authenticate": "Bearer" } });
}

/**
 * Decides a request: the caller, or the 401 to answer.
 * @returns a {@link Caller}, or an {@link OpenAIError} (401).
 */
export function createAuthenticator(options: AuthOptions): (request: Request) => Caller | OpenAIError {
  const keyDigests = options.apiKeys.map(digest);
  const adminDigest = options.adminToken ? [digest(options.adminToken)] : [];
  const openMode = keyDigests.length === 0;

  return (request) => {
    const path = pathOf(request);
    if (isPublic(path)) return { role: "open", scope: "open" };
    const secret = presentedSecret(request);
    const presented = secret === undefined ? undefined : digest(secret);
    const presentsAdminToken = presented !== undefined && matchesAny(presented, adminDigest);
    if (path === "/admin" || path.startsWith("/admin/")) {
      if (presentsAdminToken) return { role: "admin", scope: "admin" };
      if (adminDigest.length === 0 && openMode) return { role: "open", scope: "open" };
      if (adminDigest.length === 0) {
        return unauthorized(
          "The admin API is disabled: no admin token is configured (ITHACA_ADMIN_TOKEN).",
          "admin_disabled",
        );
      }
      return unauthorized("Missing or invalid admin token.", "invalid_admin_token");
    }
    if (presentsAdminToken) return { role: "admin", scope: "admin" };
    if (openMode) return { role: "open", scope: "open" };
    if (presented === undefined) {
      return unauthorized(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        "missing_api_key",
      );
    }
    return matchesAny(presented, keyDigests)
      ? { role: "client", scope: `key:${presented.toString("hex", 0, 8)}` }
      : unauthorized("Incorrect API key provided.", "invalid_api_key");
  };
}

/** The auth plugin (see the module comment). Applies to every route of the app that uses it. */
export function authPlugin(options: AuthOptions) {
  const authenticate = createAuthenticator(options);
  return new Elysia({ name: "ithaca:auth" })
    .onRequest(({ request }) => {
      const decision = authenticate(request);
      if (decision instanceof OpenAIError) return errorResponseFor(request, decision);
    })
    .derive({ as: "global" }, ({ request }) => {
      const decision = authenticate(request);
      if (decision instanceof OpenAIError) throw decision; // Already answered in onRequest; kept for the type.
      return { caller: decision };
    });
}
