/**
 * The probe an engine gets before it is enrolled (issue 12; reference/odyssai-x-wire.md §3.3, where OdyssAI-X probes
 * only lazily): is it reachable, how fast, which models does it serve (`GET {base}/models`), and what does its
 * capability contract say (`/.well-known/inference-engine.json`). Nothing is cached: this is the moment's answer.
 */
import { upstreamEndpoint } from "../backends/http/endpoint.ts";
import { fetchContract, fetchModels, type UpstreamContract } from "../backends/http/probe.ts";

/** What a probe found. */
export interface EngineProbe {
  /** `GET {base}/models` answered with a model list. */
  reachable: boolean;
  /** Round trip of the model list request, in ms; null when unreachable. */
  latency_ms: number | null;
  models: Array<{ id: string; context_length: number | null }>;
  /** The engine's contract (`engine`, `version`, capabilities), or null when it serves none. */
  contract: UpstreamContract | null;
  /** Why it is unreachable (no credentials or paths in it), else null. */
  error: string | null;
}

/**
 * How to reach an engine: its base URL without credentials, and the headers of every request to it (Basic auth from
 * the URL's user info, `Authorization: Bearer` with its API key when it has one).
 */
export function engineAccess(
  baseUrl: string,
  apiKey: string | undefined,
): { base: string; headers: Record<string, string> } {
  const { base, headers } = upstreamEndpoint(baseUrl);
  return { base, headers: apiKey ? { ...headers, authorization: `Bearer ${apiKey}` } : { ...headers } };
}

/**
 * Probes the engine at `baseUrl` (with its API key, when it needs one).
 * @param timeoutMs deadline of each request.
 */
export async function probeEngine(
  baseUrl: string,
  apiKey: string | undefined,
  timeoutMs: number,
): Promise<EngineProbe> {
  const { base, headers: auth } = engineAccess(baseUrl, apiKey);
  const started = performance.now();
  const [models, contract] = await Promise.allSettled([
    fetchModels(base, auth, timeoutMs),
    fetchContract(base, timeoutMs),
  ]);
  if (models.status === "rejected") {
    return { reachable: false, latency_ms: null, models: [], contract: null, error: reasonOf(models.reason) };
  }
  return {
    reachable: true,
    latency_ms: Math.round(performance.now() - started),
    models: models.value.map((model) => ({ id: model.id, context_length: model.contextLength ?? null })),
    contract: contract.status === "fulfilled" ? contract.value : null,
    error: null,
  };
}

/** A failure's message, shortened. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 300);
}
