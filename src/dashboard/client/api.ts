/**
 * The dashboard's calls to the admin API. Runs in the browser.
 *
 * The admin token is kept in `sessionStorage` (this tab only; gone when the tab closes), sent as an `Authorization`
 * header on every call — never in a URL, never in a cookie (`credentials: "omit"`: no ambient credential rides along).
 * In open mode on loopback the admin API needs no token and none is sent.
 */

const TOKEN_KEY = "ithaca.admin-token";

/** An error answer of the API: its status, its message and its `code` (OpenAI error shape). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** The admin token of this tab, or null (open mode, or not signed in). */
export function adminToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keeps `token` for this tab; null forgets it. */
export function setAdminToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** The codes of Ithaca's own refusals of the admin API (an engine's 401 passed through is not one). */
const ADMIN_REFUSALS = new Set(["invalid_admin_token", "admin_disabled"]);

type Listener = (error: ApiError) => void;
const refusedListeners = new Set<Listener>();

/**
 * Calls `listener` when Ithaca refuses a call for want of a valid admin token (401): the page asks to sign in again.
 */
export function onRefused(listener: Listener): () => void {
  refusedListeners.add(listener);
  return () => refusedListeners.delete(listener);
}

/** The message and code of an error answer, whichever dialect shape it has. */
async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code: string | null = null;
  try {
    const body = (await response.json()) as { error?: { message?: unknown; code?: unknown } | string };
    if (typeof body.error === "string") message = body.error;
    else if (body.error) {
      if (typeof body.error.message === "string") message = body.error.message;
      if (typeof body.error.code === "string") code = body.error.code;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, message, code);
}

/**
 * Calls the API at `path` (same origin) and returns its JSON answer.
 * @param token the token to send instead of the tab's (sign-in checks one before keeping it)
 * @throws ApiError for an error answer (and tells the {@link onRefused} listeners of a 401); TypeError when the
 *   server cannot be reached.
 */
export async function api<T>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  token: string | null = adminToken(),
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && ADMIN_REFUSALS.has(error.code ?? "")) {
      for (const listener of refusedListeners) listener(error);
    }
    throw error;
  }
  return (await response.json()) as T;
}

/** `encodeURIComponent` for a path segment. */
export const seg = (value: string) => encodeURIComponent(value);
