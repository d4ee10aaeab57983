/**
 * Where an upstream is and what every request to it carries, with credentials kept out of sight: a `base_url` with
 * user info (`http://user:pass@host/v1`) is split into a clean base URL, used on the wire and shown in listings, and
 * an `Authorization: Basic` header (RFC 7617), so the secret never appears in `/v1/models`, a log line or an error.
 */

/** An upstream's address and credential-free display form. */
export interface UpstreamEndpoint {
  /** `base_url` without user info and without trailing slashes: requests go to `${base}${path}`. */
  readonly base: string;
  /** Headers from the URL's user info (`authorization: Basic …`), empty when it has none. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Splits `baseUrl` into its credential-free base and the Basic auth header its user info stands for.
 * @throws TypeError when `baseUrl` is not an absolute URL (the config schema checks this first).
 */
export function upstreamEndpoint(baseUrl: string): UpstreamEndpoint {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { base: url.href.replace(/\/+$/, ""), headers };
}

/** `baseUrl` without user info, for display (`/v1/models` details, logs). */
export function publicBaseUrl(baseUrl: string): string {
  try {
    return upstreamEndpoint(baseUrl).base;
  } catch {
    return "(invalid url)";
  }
}
