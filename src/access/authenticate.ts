/**
 * Who is calling (DESIGN §2 step 1): the decision behind the auth plugin (plugins/auth.ts).
 *
 * - Public routes (`/health`, `/.well-known/*`, `/swagger`) are never gated (OdyssAI-X: public routes never gated;
 *   Companion probes the contract without credentials).
 * - `/admin/*` (and Prometheus' `/metrics`) needs the admin token when one is configured; without one it is open only in open mode, and then to
 *   loopback clients only (403 to others), so binding to a LAN address never opens `/admin` to the network.
 * - Everything else (`/v1/*`) needs an API key once any is configured, from `Authorization: Bearer <key>` or
 *   `x-api-key: <key>` (the OpenAI and Anthropic SDK conventions): a configured key, or one issued through
 *   `/admin/keys` (`sk-ith-…`: ./api-keys.ts, with its allowed models and limits). The admin token never serves
 *   inference. With no keys configured or issued Ithaca runs in open mode (the OdyssAI-X posture: LAN-first,
 *   loopback by default).
 * - A crew token (`crew_…`, from pairing: ./pairing.ts) is accepted on `/v1/*` in either mode, and is the only
 *   credential of `DELETE /admin/crew/self`. An unknown or revoked one is refused with 401 and
 *   `x-odyssai-crew-revoked: true`, on which Companion forgets its pairing (telemak-companion-wire §9 #7).
 * - Secrets are compared in constant time: SHA-256 digests of equal length through `crypto.timingSafeEqual`, every
 *   configured secret checked on every call (do better than OdyssAI-X's plain `!=`); nothing is hashed when there is
 *   nothing to compare.
 */
import { timingSafeEqual } from "node:crypto";
import { requestPath } from "../protocol/dialect.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { isLoopbackAddress } from "./host-check.ts";
import { API_KEY_PREFIX, type IssuedKey } from "./api-keys.ts";
import { CREW_TOKEN_PREFIX } from "./pairing.ts";
import { PUBLIC_ROUTES } from "./public-routes.ts";
import { secretDigest } from "./secret-digest.ts";

export interface AuthOptions {
  /** Keys accepted on `/v1/*`; empty: open mode. */
  apiKeys: readonly string[];
  /** Token for `/admin/*`. */
  adminToken?: string;
  /** The id of the paired client a crew token belongs to; undefined when unknown or revoked. Absent: no pairing. */
  crewMember?: (token: string) => string | undefined;
  /** The issued key (`sk-ith-…`, ./api-keys.ts) a secret is, `"expired"`, or undefined. */
  issuedKey?: (secret: string) => IssuedKey | "expired" | undefined;
  /** How many keys are issued now: any, and `/v1/*` needs a key even with none configured. */
  issuedKeyCount?: () => number;
}

/** Who made a request. */
export interface Caller {
  /**
   * `open`: no credentials needed here; `client`: a valid API key; `crew`: a paired client's token; `admin`: the
   * admin token.
   */
  role: "open" | "client" | "crew" | "admin";
  /** Cache scope: requests of one scope may share KV prefixes (`open` in open mode, one per key or client otherwise). */
  scope: string;
  /** The paired client's crew id, for `crew`. */
  crewId?: string;
  /** The issued key, for a `client` that presented one: its allowed models and limits. */
  key?: IssuedKey;
}

/** Prometheus' scrape path: operational data, decided as the admin API is. */
const OPERATIONS_METRICS = "/metrics";

/** The one route a crew token opens in the admin API: a client revoking its own pairing. */
const CREW_SELF = "/admin/crew/self";

/** Whether `path` is one of the contract's public routes (`/x` exactly, or under `/x/*`). */
function isPublic(path: string): boolean {
  return PUBLIC_ROUTES.some((route) => (route.endsWith("/*") ? path.startsWith(route.slice(0, -1)) : path === route));
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

function unauthorized(message: string, code: string, headers: Record<string, string> = {}): OpenAIError {
  return new OpenAIError(401, message, { code, headers: { "www-authenticate": "Bearer", ...headers } });
}

/** The answer to an unknown or revoked crew token: Companion forgets its pairing on the header. */
const crewRevoked = () =>
  unauthorized("This pairing was revoked or is unknown: pair again.", "crew_revoked", {
    "x-odyssai-crew-revoked": "true",
  });

/** A decision function: see {@link createAuthenticator}. */
export type Authenticator = (request: Request, remoteAddress?: () => string | undefined) => Caller | OpenAIError;

/**
 * Decides a request: the caller, or the error to answer.
 *
 * Secrets are hashed only when there is something to compare them with: in open mode without an admin token nothing
 * is hashed at all. Without an admin token, the open admin API of open mode answers loopback clients only (a LAN
 * bind must not open `/admin` to the network silently).
 * @param remoteAddress gives the client's IP address (`server.requestIP(request)`), asked only for the admin API;
 *   absent or undefined: the request did not come over the network (`app.handle`), as good as loopback.
 * @returns a {@link Caller}, or an {@link OpenAIError}: 401, or 403 `admin_loopback_only` for the admin API from
 *   another host without an admin token.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const keyDigests = options.apiKeys.map(secretDigest);
  const adminDigest = options.adminToken ? [secretDigest(options.adminToken)] : [];
  const openMode = keyDigests.length === 0;
  const presentedDigest = (request: Request): Buffer | undefined => {
    const secret = presentedSecret(request);
    return secret === undefined ? undefined : secretDigest(secret);
  };

  /** A crew token's caller, or the refusal; undefined when the request presents no crew token. */
  const crewCaller = (request: Request): Caller | OpenAIError | undefined => {
    const secret = options.crewMember && presentedSecret(request);
    if (!secret?.startsWith(CREW_TOKEN_PREFIX)) return undefined;
    const id = options.crewMember?.(secret);
    return id === undefined ? crewRevoked() : { role: "crew", scope: `crew:${id}`, crewId: id };
  };

  return (request, remoteAddress) => {
    const path = requestPath(request);
    if (isPublic(path)) return { role: "open", scope: "open" };
    if (path === CREW_SELF)
      return crewCaller(request) ?? unauthorized("Send the crew token to revoke.", "missing_crew_token");
    if (path === "/admin" || path.startsWith("/admin/") || path === OPERATIONS_METRICS) {
      if (adminDigest.length > 0) {
        const presented = presentedDigest(request);
        return presented !== undefined && matchesAny(presented, adminDigest)
          ? { role: "admin", scope: "admin" }
          : unauthorized("Missing or invalid admin token.", "invalid_admin_token");
      }
      if (!openMode) {
        return unauthorized(
          "The admin API is disabled: no admin token is configured (ITHACA_ADMIN_TOKEN).",
          "admin_disabled",
        );
      }
      const address = remoteAddress?.();
      if (address !== undefined && !isLoopbackAddress(address)) {
        return new OpenAIError(
          403,
          "The admin API answers only this machine while no admin token is configured; set ITHACA_ADMIN_TOKEN to use it from another host.",
          { code: "admin_loopback_only" },
        );
      }
      return { role: "open", scope: "open" };
    }
    const crew = crewCaller(request);
    if (crew !== undefined) return crew;
    const open = openMode && (options.issuedKeyCount?.() ?? 0) === 0;
    if (open && adminDigest.length === 0) return { role: "open", scope: "open" };
    const secret = presentedSecret(request);
    if (secret?.startsWith(API_KEY_PREFIX) && options.issuedKey) {
      const key = options.issuedKey(secret);
      if (key === "expired") return unauthorized("This API key has expired.", "key_expired");
      if (key !== undefined) return { role: "client", scope: `key:${key.id}`, key };
    }
    const presented = secret === undefined ? undefined : secretDigest(secret);
    if (open) return { role: "open", scope: "open" };
    if (presented === undefined) {
      return unauthorized(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        "missing_api_key",
      );
    }
    if (matchesAny(presented, keyDigests)) return { role: "client", scope: `key:${presented.toString("hex", 0, 8)}` };
    if (matchesAny(presented, adminDigest)) {
      return unauthorized("The admin token does not serve inference: use an API key.", "admin_token_not_for_inference");
    }
    return unauthorized("Incorrect API key provided.", "invalid_api_key");
  };
}

/**
 * The auth plugin (see the module comment). Applies to every route of the app that uses it. Each request is decided
 * once, in `onRequest`; `derive` hands that decision on as `caller`.
 */
