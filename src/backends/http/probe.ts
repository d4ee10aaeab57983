/**
 * Discovery of what an OpenAI-compatible upstream serves: its model list (`GET {base_url}/models`) and its capability
 * contract (`GET /.well-known/inference-engine.json` at the upstream's origin, Telemak or OdyssAI-X shape), each cached
 * with a TTL as OdyssAI-X does (models 8 s, contract 60 s; reference/odyssai-x-wire.md §3.3). Both are probed at
 * startup (the catalog's first refresh) and re-probed soon after a failure. An upstream that stops answering is
 * `down`: its last known models are still listed (the catalog marks them not ready) and one warning is logged per
 * outage; one that never answered lists none. It never throws.
 */
import * as v from "valibot";
import { TtlCache } from "../ttl-cache.ts";
import { readCapped } from "./body-bytes.ts";

/** One model as the upstream lists it. */
export interface UpstreamModel {
  id: string;
  /**
   * Context window in tokens when the upstream says (vLLM `max_model_len`, OpenRouter `context_length`, OdyssAI
   * `x_odyssai.context_length`).
   */
  contextLength?: number;
}

/** The parts of an upstream's capability contract Ithaca uses. */
export interface UpstreamContract {
  /** `engine` (Telemak shape) or `name` (OdyssAI shape), lower-cased: `telemak`, `ithaca`, `odyssai-x`... */
  engine?: string;
  version?: string;
  /** `capabilities.stream`; OdyssAI-X's fallback when absent is true. */
  stream: boolean;
  /** `capabilities.tools`, or `tool-calling` in `features`. */
  tools: boolean;
  /** `capabilities.vision`, or `vision` in `features`. */
  vision: boolean;
  /** `capabilities.session_cache`, or `prefix-cache` in `features`: it keeps a KV cache per session. */
  sessionCache: boolean;
  /** `capabilities.max_context`: the longest context it serves, in tokens (Telemak states one for all models). */
  maxContext?: number;
  /**
   * What it says of each model, by upstream id: its capabilities (an Ithaca's `models[].capabilities`; a Telemak's
   * `x_telemak.kind` — `embedder` → `embeddings`, `vlm` → `vision`) and context length, when it says.
   */
  models: ReadonlyMap<string, { capabilities?: string[]; contextLength?: number }>;
}

const PositiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const ModelListSchema = v.looseObject({
  data: v.array(
    v.looseObject({
      id: v.string(),
      max_model_len: v.optional(v.nullable(PositiveInt)),
      context_length: v.optional(v.nullable(PositiveInt)),
      x_odyssai: v.optional(v.looseObject({ context_length: v.optional(v.nullable(PositiveInt)) })),
    }),
  ),
});

const ContractSchema = v.looseObject({
  engine: v.optional(v.string()),
  name: v.optional(v.string()),
  version: v.optional(v.string()),
  features: v.optional(v.array(v.string())),
  capabilities: v.optional(
    v.looseObject({
      stream: v.optional(v.boolean()),
      tools: v.optional(v.boolean()),
      vision: v.optional(v.boolean()),
      session_cache: v.optional(v.boolean()),
      max_context: v.optional(v.nullable(PositiveInt)),
    }),
  ),
  models: v.optional(
    v.array(
      v.looseObject({
        id: v.string(),
        capabilities: v.optional(v.array(v.string())),
        context_length: v.optional(v.nullable(PositiveInt)),
        x_telemak: v.optional(v.looseObject({ kind: v.optional(v.string()) })),
      }),
    ),
  ),
});

export interface UpstreamProbeOptions {
  upstreamId: string;
  /** e.g. `http://10.0.0.5:8003/v1` */
  baseUrl: string;
  /** Request headers (authorization) for the probes. */
  headers: Record<string, string>;
  /** Per-probe deadline in milliseconds. */
  timeoutMs: number;
}

/** The most of a discovery answer (model list, contract) read, in bytes: beyond it the answer is not JSON. */
export const PROBE_BODY_LIMIT_BYTES = 8 * 1024 ** 2;

const MODELS_TTL_MS = 8_000;
const CONTRACT_TTL_MS = 60_000;
const RETRY_MS = 2_000;

async function getJSON(url: string, headers: Record<string, string>, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { headers, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} returned ${response.status}`);
  }
  return JSON.parse(await readCapped(response, PROBE_BODY_LIMIT_BYTES));
}

function toContract(raw: v.InferOutput<typeof ContractSchema>): UpstreamContract {
  const features = new Set(raw.features ?? []);
  const tools = raw.capabilities?.tools ?? features.has("tool-calling");
  /** What a Telemak's `x_telemak.kind` implies. */
  const ofKind = (kind: string | undefined): string[] | undefined => {
    if (kind === "embedder") return ["embeddings"];
    if (kind === "llm" || kind === "vlm") return [...(tools ? ["tools"] : []), ...(kind === "vlm" ? ["vision"] : [])];
    return undefined;
  };
  return {
    engine: (raw.engine ?? raw.name)?.toLowerCase(),
    version: raw.version,
    stream: raw.capabilities?.stream ?? true,
    tools,
    vision: raw.capabilities?.vision ?? features.has("vision"),
    sessionCache: raw.capabilities?.session_cache ?? features.has("prefix-cache"),
    maxContext: raw.capabilities?.max_context ?? undefined,
    models: new Map(
      (raw.models ?? []).map((model) => [
        model.id,
        {
          capabilities: model.capabilities ?? ofKind(model.x_telemak?.kind),
          contextLength: model.context_length ?? undefined,
        },
      ]),
    ),
  };
}

/**
 * An upstream's model list, `GET {baseUrl}/models` (OpenAI list shape).
 * @param baseUrl without trailing slash, credentials kept out (./endpoint.ts); `headers` carry them.
 * @throws Error when the upstream cannot be reached, answers an error status, or sends something else (ValiError).
 */
export async function fetchModels(
  baseUrl: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<UpstreamModel[]> {
  const raw = v.parse(ModelListSchema, await getJSON(`${baseUrl}/models`, headers, timeoutMs));
  return raw.data.map((model) => ({
    id: model.id,
    contextLength: model.max_model_len ?? model.context_length ?? model.x_odyssai?.context_length ?? undefined,
  }));
}

/**
 * An upstream's capability contract, `GET /.well-known/inference-engine.json` at its origin.
 * @returns null when it serves none (404; vLLM, mlx_lm.server) or not in a known shape.
 * @throws Error when the upstream cannot be reached or answers another error status.
 */
export async function fetchContract(baseUrl: string, timeoutMs: number): Promise<UpstreamContract | null> {
  const url = new URL("/.well-known/inference-engine.json", `${baseUrl}/`).href;
  const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url} returned ${response.status}`);
  }
  const body = await readCapped(response, PROBE_BODY_LIMIT_BYTES);
  let json: unknown = null;
  try {
    json = JSON.parse(body);
  } catch {
    // Not JSON (or over the limit): no contract.
  }
  const parsed = v.safeParse(ContractSchema, json);
  return parsed.success ? toContract(parsed.output) : null;
}

/** Cached discovery of one upstream (see the module comment). */
export class UpstreamProbe {
  private readonly modelsCache: TtlCache<UpstreamModel[]>;
  private readonly contractCache: TtlCache<UpstreamContract | null>;
  private outage = false;
  /** The models of the last successful probe. */
  private lastGood: UpstreamModel[] = [];
  private readonly listeners = new Set<() => void>();
  /** What the probes found last, serialized, to notice a change. */
  private lastAnswer = "";

  constructor(private readonly options: UpstreamProbeOptions) {
    const base = options.baseUrl.replace(/\/+$/, "");
    this.modelsCache = new TtlCache({
      load: () => this.loadModels(base),
      fallback: [],
      ttlMs: MODELS_TTL_MS,
      retryMs: RETRY_MS,
      onError: (error) => this.warn(`model discovery failed (GET ${base}/models)`, error),
      onLoad: () => this.changed(),
    });
    this.contractCache = new TtlCache({
      load: () => fetchContract(base, options.timeoutMs),
      fallback: null,
      ttlMs: CONTRACT_TTL_MS,
      retryMs: RETRY_MS,
      onLoad: () => this.changed(),
    });
  }

  /** The upstream's models; while it is {@link down}, those it served when it last answered. */
  async models(): Promise<UpstreamModel[]> {
    const models = await this.modelsCache.get();
    return this.outage ? this.lastGood : models;
  }

  /** The contract as last probed, without probing; undefined before the first probe, null when it serves none. */
  knownContract(): UpstreamContract | null | undefined {
    return this.contractCache.peek();
  }

  /** Whether the last model probe failed (the upstream is not answering). */
  down(): boolean {
    return this.outage;
  }

  /** The upstream's contract, or null when it serves none or is unreachable. */
  contract(): Promise<UpstreamContract | null> {
    return this.contractCache.get();
  }

  /**
   * Calls `listener` after a probe whose answer differs from the last one (models, contract, or reachability).
   * @returns a function that stops the calls.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Probes the model list again now (after a load or an unload there) and resolves once it is known. */
  async refresh(): Promise<void> {
    await this.modelsCache.refresh();
  }

  /** Forces a re-probe on next use: called when a request to the upstream failed. */
  invalidate(): void {
    this.modelsCache.invalidate();
    this.contractCache.invalidate();
  }

  private async loadModels(base: string): Promise<UpstreamModel[]> {
    const models = await fetchModels(base, this.options.headers, this.options.timeoutMs);
    if (this.outage) console.warn(`[ithaca] upstream '${this.options.upstreamId}' is reachable again`);
    this.outage = false;
    this.lastGood = models;
    return models;
  }

  /** Tells the listeners when what the probes found differs from what they found last (an unchanged answer is quiet). */
  private changed(): void {
    const answer = JSON.stringify([this.outage, this.modelsCache.peek(), this.contractCache.peek()]);
    if (answer === this.lastAnswer) return;
    this.lastAnswer = answer;
    for (const listener of this.listeners) listener();
  }

  private warn(what: string, error: unknown): void {
    if (this.outage) return;
    this.outage = true;
    const reason = error instanceof v.ValiError ? `unexpected body: ${error.message}` : (error as Error).message;
    console.warn(
      `[ithaca] upstream '${this.options.upstreamId}': ${what}: ${reason}; its models are not ready until it answers again`,
    );
  }
}
