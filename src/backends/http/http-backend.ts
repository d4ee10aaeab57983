/**
 * What every HTTP upstream backend shares, whatever its dialect: its id (`upstream:<id>`), the probe of what it
 * serves, the client that sends its requests (deadlines, retries, cool-down, bounds), and the parts of the
 * {@link Backend} interface that only these two answer: availability, model-change notices, draining, counters and
 * closing. The dialect folders (../openai/, ../anthropic/) add listing and the calls themselves.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import type { Backend } from "../backend.ts";
import { upstreamEndpoint } from "./endpoint.ts";
import { UpstreamProbe } from "./probe.ts";
import { UpstreamClient, type UpstreamDialect } from "./upstream-client.ts";

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

  /**
   * @param headers sent with every request and probe (auth, dialect version, configured extras); credentials in
   *   `base_url` are added by the client and the probe, never kept in the URL.
   * @param dialect how the upstream words its errors.
   */
  constructor(
    protected readonly upstream: UpstreamConfig,
    headers: Record<string, string>,
    dialect: UpstreamDialect,
  ) {
    this.id = `upstream:${upstream.id}`;
    const endpoint = upstreamEndpoint(upstream.base_url);
    this.probe = new UpstreamProbe({
      upstreamId: upstream.id,
      baseUrl: endpoint.base,
      headers: { ...endpoint.headers, ...headers },
      timeoutMs: upstream.timeout_ms.connect,
    });
    this.client = new UpstreamClient(upstream, dialect, headers, () => this.probe.invalidate());
  }

  available(): boolean {
    return this.client.available();
  }

  onModelsChanged(listener: () => void): () => void {
    return this.probe.onChange(listener);
  }

  drain(): Promise<void> {
    return this.client.drain();
  }

  stats(): Record<string, unknown> {
    return { upstream: this.upstream.id, available: this.client.available(), ...this.client.counters };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
