/**
 * The capability contract served at `GET /.well-known/inference-engine.json`, computed from the catalog (what is
 * really servable now), never static. It is the superset of both shapes clients read:
 *
 * - OdyssAI-X / Companion (reference/odyssai-x-wire.md §2.1, telemak-companion-wire.md §6.3-§6.4, §9 #1-#3):
 *   `name`, `vendor: "odyssai.eu"` (the exact token Companion's probe and LAN scan match), `version`, `api_compat`,
 *   `auth{required, scheme, scope, public_routes}`, `features`, `limits`, `extensions.x_odyssai`.
 * - Telemak (telemak-companion-wire.md §1.7, the shape OdyssAI-X's docs describe): `engine`,
 *   `capabilities{stream, tools, vision, embeddings, max_context, session_cache, openai_compat, anthropic_compat,
 *   speculative_decoding}`, `models[]`.
 * - Ithaca's own: `capabilities.json_mode` and the `structured-outputs` feature when a model enforces
 *   `response_format` and forced tool calls (capability `json-mode`: the local engine's models).
 */
import { PUBLIC_ROUTES } from "../access/public-routes.ts";
import type { CatalogEntry } from "./catalog.ts";

/** Companion's scanner and probe match this exact value (`vendor === "odyssai.eu"`). */
export const CONTRACT_VENDOR = "odyssai.eu";

/** The per-model fields of `x_odyssai` (odyssai-x-wire §2.2), listed in the contract's extension block. */
const X_ODYSSAI_FIELDS = [
  "loaded",
  "loading",
  "pool",
  "warm",
  "admin_loadable",
  "backend",
  "nodes",
  "kv_cache_q8",
  "context_length",
  "max_output_tokens",
  "quantization",
  "size_bytes",
  "modalities",
  "family",
  "supports_tools",
  "supports_vision",
  "supports_json_mode",
  "supports_streaming",
  "estimated_tps",
  "estimated_load_s",
] as const;

export interface ContractContext {
  /** Ithaca's version. */
  version: string;
  /** API keys are configured: `/v1/*` needs one. */
  apiKeysRequired: boolean;
  /** An admin token is configured: `/admin/*` needs it. */
  adminTokenRequired: boolean;
  /** `server.body_limit_bytes`. */
  bodyLimitBytes: number;
}

/**
 * Builds the contract document.
 * @param entries the catalog now (ready and loading models).
 */
export function buildContract(entries: readonly CatalogEntry[], context: ContractContext): Record<string, unknown> {
  const has = (capability: string) => entries.some((entry) => entry.model.capabilities?.includes(capability));
  const tools = has("tools");
  const vision = has("vision");
  const prefixCache = has("prefix-cache");
  // A model that enforces response_format json_object/json_schema and forced tool calls.
  const jsonMode = has("json-mode");
  const contexts = entries.flatMap((entry) => (entry.model.contextLength ? [entry.model.contextLength] : []));
  const features = [
    "sse-streaming",
    "openai-models-extended",
    // Ithaca is a gateway by construction (it proxies to any OpenAI-compatible upstream); Companion picks its
    // direct-inference "gateway" mode from this token.
    "cloud-passthrough",
    ...(tools ? ["tool-calling"] : []),
    ...(vision ? ["vision"] : []),
    ...(prefixCache ? ["prefix-cache"] : []),
    ...(jsonMode ? ["structured-outputs"] : []),
  ];
  return {
    name: "Ithaca",
    vendor: CONTRACT_VENDOR,
    version: context.version,
    // Both dialects are served in front of every backend.
    api_compat: ["openai/v1", "anthropic/v1"],
    auth: {
      required: context.apiKeysRequired,
      scheme: "bearer",
      scope: "/v1/*",
      header_alternatives: ["x-api-key"],
      admin_required: context.adminTokenRequired,
      admin_scope: "/admin/*",
      public_routes: [...PUBLIC_ROUTES],
      eventsource_query_fallback: false,
    },
    features,
    limits: { max_body_bytes: context.bodyLimitBytes },
    extensions: { x_odyssai: { doc: "https://odyssai.eu/contract/x_odyssai", fields: [...X_ODYSSAI_FIELDS] } },
    engine: "ithaca",
    capabilities: {
      stream: true,
      tools,
      vision,
      embeddings: has("embeddings"),
      max_context: contexts.length > 0 ? Math.max(...contexts) : null,
      session_cache: prefixCache,
      json_mode: jsonMode,
      openai_compat: "v1",
      anthropic_compat: "v1",
      speculative_decoding: { supported: false, modes: [], active_pairs: [] },
    },
    models: entries
      .map((entry) => ({
        id: entry.model.id,
        ready: entry.model.ready,
        backend: entry.backend.kind,
        context_length: entry.model.contextLength ?? null,
        capabilities: entry.model.capabilities ?? [],
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}
