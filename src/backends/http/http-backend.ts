/**
 * What every HTTP upstream backend shares, whatever its dialect: its id (`upstream:<id>`), the probe of what it
 * serves, the client that sends its requests (deadlines, retries, cool-down, bounds), and the parts of the
 * {@link Backend} interface that only these two answer: availability, model-change notices, draining, counters and
 * closing. The dialect folders (../openai/, ../anthropic/) add listing and the calls themselves.
 *
 * Health: the upstream is re-probed every {@link HEALTH_CHECK_MS} (the probe's own TTLs decide whether that costs a
 * request), besides what its real traffic shows; while it does not answer, its models are listed not ready and a
 * request to one gets 503 with `Retry-After` (another replica is tried first); they come back on their own.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { Backend, BackendCallContext } from "../backend.ts";
import { upstreamEndpoint } from "./endpoint.ts";
import { UpstreamProbe } from "./probe.ts";
import { UpstreamClient, type UpstreamDialect, type UpstreamFailure } from "./upstream-client.ts";

/** How often an upstream's health is looked at, in ms. */
export const HEALTH_CHECK_MS = 2_000;

/** `Retry-After` (seconds) of a request to an engine that does not serve the model now: one health check away. */
export const NOT_READY_RETRY_AFTER = String(Math.ceil(HEALTH_CHECK_MS / 1000));

/** The registry id of the backend of upstream `id` (`upstream:<id>`). */
export function upstreamBackendId(id: string): string {
  return `upstream:${id}`;
}

/** The upstream's configured extra headers, names lower-cased. */
export function configuredHeaders(upstream: UpstreamConfig): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream.headers)) headers[name.toLowerCase()] = value;
  return headers;
}

/** The shared half of an HTTP upstream backend (see the module comment). */
export abstract class HttpBackend
  implements Pick<Backend, "id" | "available" | "onModelsChanged" | "drain" | "stats" | "close">
{
  readonly id: string;
  protected readonly probe: UpstreamProbe;
  protected readonly client: UpstreamClient;
  private readonly health: ReturnType<typeof setInterval> | undefined;

  /**
   * @param headers sent with every request and probe (auth, dialect version, configured extras); credentials in
   *   `base_url` are added by the client and the probe, never kept in the URL.
   * @param dialect how the upstream words its errors.
   * @param onFailure also told when the upstream fails (its models are re-probed in any case): a ring cluster's
   *   watchdog (src/fleet/ring/lifecycle.ts).
   */
  constructor(
    protected readonly upstream: UpstreamConfig,
    headers: Record<string, string>,
    dialect: UpstreamDialect,
    onFailure?: (failure: UpstreamFailure) => void,
  ) {
    this.id = upstreamBackendId(upstream.id);
    const endpoint = upstreamEndpoint(upstream.base_url);
    this.probe = new UpstreamProbe({
      upstreamId: upstream.id,
      baseUrl: endpoint.base,
      headers: { ...endpoint.headers, ...headers },
      timeoutMs: upstream.timeout_ms.connect,
    });
    this.client = new UpstreamClient(upstream, dialect, headers, (failure) => {
      this.probe.invalidate();
      onFailure?.(failure);
    });
    if (!upstream.published && !upstream.models) {
      this.health = setInterval(() => void this.probe.models(), HEALTH_CHECK_MS);
      this.health.unref?.();
    }
  }

  /**
   * Refuses a request to a model of an upstream that is not answering.
   * @throws OpenAIError 503 `upstream_unavailable` with `Retry-After`.
   */
  protected checkReady(ctx: BackendCallContext): void {
    if (ctx.model.ready) return;
    throw new OpenAIError(503, `upstream '${this.upstream.id}' is not answering; its models come back when it does`, {
      code: "upstream_unavailable",
      headers: { "retry-after": NOT_READY_RETRY_AFTER },
    });
  }

  /** Whether requests reach it now: not while it cools down after failures, nor while its health probe finds it down. */
  available(): boolean {
    return this.client.available() && !this.probe.down();
  }

  /** Probes the upstream's models again now (after it was told to load or unload one). */
  refreshModels(): Promise<void> {
    return this.probe.refresh();
  }

  onModelsChanged(listener: () => void): () => void {
    return this.probe.onChange(listener);
  }

  drain(): Promise<void> {
    return this.client.drain();
  }

  stats(): Record<string, unknown> {
    return { upstream: this.upstream.id, available: this.available(), ...this.client.counters };
  }

  async close(): Promise<void> {
    clearInterval(this.health);
    this.client.close();
  }
}
