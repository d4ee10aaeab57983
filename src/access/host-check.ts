/**
 * Who may reach Ithaca by which name (DESIGN §5: loopback by default, no silent exposure).
 *
 * - DNS rebinding: a web page whose name an attacker re-points at 127.0.0.1 reaches a local server with its own name
 *   in `Host`. Ithaca answers only names that cannot be rebound — IP literals, `localhost` and `*.localhost`, the
 *   machine's own host name and its mDNS name (`<hostname>.local`, as LAN clients reach a Mac) — and the names the
 *   operator lists in `server.allowed_hosts`; any other `Host` gets 421. A request without `Host` (HTTP/1.0) came by
 *   address and passes.
 * - Cross-site requests: in open mode (no API keys) nothing stops a page on another site from POSTing to a local
 *   Ithaca, so a request whose `Origin` names a host outside the same rule gets 403 (`Origin: null` included).
 * - Exposure: binding to a non-loopback address with the API or the admin API open is announced loudly at start.
 */
import { BlockList, isIP } from "node:net";
import { hostname } from "node:os";
import { OpenAIError } from "../protocol/errors.ts";

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/**
 * Whether an IP address or a bind host is loopback: `127.0.0.0/8`, `::1` (bracketed or not, IPv4-mapped too), or
 * `localhost`. Any other name is not.
 */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  if (bare.toLowerCase() === "localhost") return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 6 ? "ipv6" : "ipv4");
}

/**
 * The host name of an authority (`Host` header, URL host): lower-cased, port and a trailing dot removed, an IPv6
 * literal kept in brackets; `undefined` when it is malformed (`a b`, `[::1`, `host:port`).
 */
function hostnameOf(authority: string): string | undefined {
  const close = authority.startsWith("[") ? authority.indexOf("]") : -1;
  if (authority.startsWith("[") && close === -1) return undefined;
  const colon = close === -1 ? authority.indexOf(":") : close + 1;
  const name = colon === -1 || colon >= authority.length ? authority : authority.slice(0, colon);
  const port = authority.slice(name.length);
  if (port !== "" && !/^:\d{1,5}$/.test(port)) return undefined;
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Options of {@link createHostCheck}. */
export interface HostCheckOptions {
  /** Host names answered besides IP literals and `localhost` (`server.allowed_hosts`), case-insensitive. */
  allowedHosts: readonly string[];
  /** Refuse requests whose `Origin` names a host that is not allowed (open mode: no API keys). */
  checkOrigin: boolean;
  /** Origins allowed by CORS (`server.cors_origins`): never refused, whatever their host. */
  corsOrigins?: readonly string[];
}

/**
 * Builds the check run first on every request, public routes included.
 * @returns a function answering, for a request, `undefined` (go on) or the error to answer: 421
 *   `misdirected_request` for a `Host` that is not allowed, 403 `cross_origin_refused` for such an `Origin`.
 */
export function createHostCheck(options: HostCheckOptions): (request: Request) => OpenAIError | undefined {
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const own = hostname().toLowerCase();
  const allowed = new Set([own, `${own}.local`, ...options.allowedHosts.map((host) => hostnameOf(host) ?? host)]);
  const allowedName = (name: string | undefined): boolean => {
    if (name === undefined || name === "") return false;
    if (name.startsWith("[")) return isIP(name.slice(1, -1)) === 6;
    return isIP(name) === 4 || name === "localhost" || name.endsWith(".localhost") || allowed.has(name);
  };

  // Clients send the same Host on every request: the last one's verdict is kept rather than parsed again.
  let lastHost = "";
  let lastHostAllowed = false;
  const hostAllowed = (host: string): boolean => {
    if (host !== lastHost) {
      lastHostAllowed = allowedName(hostnameOf(host));
      lastHost = host;
    }
    return lastHostAllowed;
  };

  return (request) => {
    const host = request.headers.get("host");
    if (host && !hostAllowed(host)) {
      return new OpenAIError(
        421,
        `This server does not answer for the host '${host.slice(0, 255)}': use its IP address or localhost, or add the name to server.allowed_hosts.`,
        { code: "misdirected_request" },
      );
    }
    const origin = request.headers.get("origin");
    if (options.checkOrigin && origin !== null && !corsOrigins.has(origin) && !allowedName(originHost(origin))) {
      return new OpenAIError(
        403,
        `Cross-site request refused: origin '${origin.slice(0, 255)}' is not allowed (serve the page from an allowed host, add it to server.allowed_hosts, or configure API keys).`,
        { code: "cross_origin_refused" },
      );
    }
    return undefined;
  };
}

/** The host name an `Origin` header names; `undefined` for `null` and anything that is not a URL. */
function originHost(origin: string): string | undefined {
  try {
    return hostnameOf(new URL(origin).host);
  } catch {
    return undefined;
  }
}

/** What {@link exposureWarnings} needs to know. */
export interface Exposure {
  /** The address the server binds (`server.host`). */
  host: string;
  /** API keys are configured: `/v1` is not open. */
  apiKeysRequired: boolean;
  /** An admin token is configured: `/admin` is not open. */
  adminTokenRequired: boolean;
}

/**
 * The warnings to print at start when the server binds a non-loopback address: one when `/v1` is open to the
 * network (no API keys), one when the admin API has no token (other hosts are then refused it: see the auth plugin).
 * @returns warning lines; empty on a loopback bind or when both are protected.
 */
export function exposureWarnings({ host, apiKeysRequired, adminTokenRequired }: Exposure): string[] {
  if (isLoopbackAddress(host)) return [];
  const warnings: string[] = [];
  if (!apiKeysRequired) {
    warnings.push(
      `WARNING: listening on ${host} with no API keys: anyone who can reach this address can use /v1 (set ITHACA_API_KEYS or auth.api_keys).`,
    );
  }
  if (!adminTokenRequired) {
    warnings.push(
      `WARNING: listening on ${host} with no admin token: other hosts are refused the admin API (set ITHACA_ADMIN_TOKEN to manage Ithaca remotely).`,
    );
  }
  return warnings;
}
