/**
 * A cloud provider's own model list, `GET {api_base}/models` with its key (reference/odyssai-x-wire.md §1.2
 * `/admin/providers/{id}/test` and `/upstream-models`): `Authorization: Bearer` for the OpenAI protocol, `x-api-key`
 * and `anthropic-version` for Anthropic's. It never throws: a failure comes back named — unreachable, no answer in
 * time, the key refused, another status, not a model list — and never quotes the provider's error body (OpenAI's
 * 401 echoes part of the key) nor the key.
 */
import * as v from "valibot";
import { readCapped } from "../backends/http/body-bytes.ts";
import { upstreamEndpoint } from "../backends/http/endpoint.ts";
import { configuredHeaders } from "../backends/http/http-backend.ts";
import type { UpstreamConfig } from "../config/schema.ts";

/** Deadline of a model-list request to a provider, in ms. */
export const PROVIDER_MODELS_TIMEOUT_MS = 10_000;

/** How the request was authenticated: the header that carried the key, or none. */
export type AuthUsed = "bearer" | "x-api-key" | "none";

/** What a model-list request found. */
export type ModelListing =
  | { ok: true; models: string[]; authUsed: AuthUsed }
  | { ok: false; error: string; authUsed: AuthUsed; status?: number };

const ModelList = v.looseObject({ data: v.array(v.looseObject({ id: v.string() })) });

/** The headers that carry the key, and which one that is. */
function authOf(upstream: UpstreamConfig): { headers: Record<string, string>; used: AuthUsed } {
  if (upstream.kind === "anthropic-http") {
    const version = { "anthropic-version": upstream.anthropic_version };
    return upstream.api_key
      ? { headers: { ...version, "x-api-key": upstream.api_key }, used: "x-api-key" }
      : { headers: version, used: "none" };
  }
  return upstream.api_key
    ? { headers: { authorization: `Bearer ${upstream.api_key}` }, used: "bearer" }
    : { headers: {}, used: "none" };
}

/** Why a status is a failure, in words. */
function describeStatus(status: number): string {
  if (status === 401) return "the provider refused the API key (401)";
  if (status === 403) return "the provider refused access with this API key (403)";
  if (status >= 300 && status < 400) return `the provider answered a redirect (${status}); check api_base`;
  return `the provider answered ${status}`;
}

/**
 * Lists the models of the provider `upstream` describes (its `api_key` resolved).
 * @param timeoutMs deadline of the whole request.
 */
export async function listProviderModels(
  upstream: UpstreamConfig,
  timeoutMs = PROVIDER_MODELS_TIMEOUT_MS,
): Promise<ModelListing> {
  const { base, headers: basic } = upstreamEndpoint(upstream.base_url);
  const auth = authOf(upstream);
  // Anthropic pages its list (20 by default, at most 1000).
  const url = upstream.kind === "anthropic-http" ? `${base}/models?limit=1000` : `${base}/models`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { ...basic, ...configuredHeaders(upstream), ...auth.headers },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const reason =
      name === "TimeoutError" || name === "AbortError"
        ? `no answer from ${base} within ${timeoutMs} ms`
        : `${base} is unreachable: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, error: reason, authUsed: auth.used };
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, error: describeStatus(response.status), authUsed: auth.used, status: response.status };
  }
  let parsed: v.SafeParseResult<typeof ModelList>;
  try {
    parsed = v.safeParse(ModelList, JSON.parse(await readCapped(response, upstream.limits.max_body_bytes)));
  } catch {
    return { ok: false, error: "the provider's answer is not JSON", authUsed: auth.used };
  }
  if (!parsed.success) {
    return { ok: false, error: "the provider's answer is not a model list ({data: [{id}]})", authUsed: auth.used };
  }
  return { ok: true, models: parsed.output.data.map((model) => model.id), authUsed: auth.used };
}
