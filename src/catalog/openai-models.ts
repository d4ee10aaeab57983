/**
 * `GET /v1/models` entries: the OpenAI list shape plus the `x_odyssai` block OdyssAI-X publishes and Companion reads
 * (reference/odyssai-x-wire.md §2.2, telemak-companion-wire.md §6.4, §6.5, §9 #9-#12).
 *
 * `owned_by` drives Companion's origin classification: `odyssai-<pool>` is local (also LAN engines), and
 * `odyssai-cloud-<provider>` is cloud; anything else would be treated as cloud. Facts a backend does not know are
 * `null`, never guessed.
 *
 * Backend `details` keys read here: `cluster`, `cluster_label`, `upstream` (URL), `origin` (`lan`|`cloud`), `engine`
 * (from an upstream's contract: `telemak`...), `arch`/`model_type`/`family`, `quantization`, `bits`, `size_bytes`,
 * `loading` and `admin_loadable` (booleans; the local engine's models can be loaded through `/admin/models/load`).
 */
import type { CatalogEntry } from "./catalog.ts";
import { familyFromName, quantizationFromName, shortModelName } from "../protocol/model-ids.ts";

/** One `/v1/models` entry. */
export interface OpenAIModelEntry {
  id: string;
  object: "model";
  /** Unix seconds. */
  created: number;
  owned_by: string;
  /** The concrete model behind the id (upstream model id or local path). */
  root: string;
  x_concrete: string;
  x_odyssai: Record<string, unknown>;
}

function text(details: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = details?.[key];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function count(details: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = details?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Where an entry comes from, as the OdyssAI-X fields name it. */
function flag(details: Record<string, unknown> | undefined, key: string): boolean {
  return details?.[key] === true;
}

function placement(entry: CatalogEntry): { ownedBy: string; pool: string; kind: string; backend: string } {
  const details = entry.model.details;
  if (entry.backend.kind === "mlx") return { ownedBy: "odyssai-local", pool: "local", kind: "mlx", backend: "mlx" };
  const cluster = text(details, "cluster") ?? entry.backend.id;
  if (text(details, "origin") === "cloud") {
    return { ownedBy: `odyssai-cloud-${cluster}`, pool: cluster, kind: "cloud", backend: "http-proxy" };
  }
  // A Telemak is published exactly as OdyssAI-X does; other LAN engines keep their own group in Companion.
  return text(details, "engine") === "telemak"
    ? { ownedBy: `odyssai-${cluster}`, pool: cluster, kind: "telemak", backend: "http-proxy" }
    : { ownedBy: `odyssai-${cluster}`, pool: cluster, kind: "openai-http", backend: "openai-http" };
}

/**
 * Renders one catalog entry for `/v1/models`.
 * @param created Unix seconds to publish as `created` (the app's start time: stable across calls).
 */
export function toOpenAIModel(entry: CatalogEntry, created: number): OpenAIModelEntry {
  const { model } = entry;
  const details = model.details;
  const capabilities = new Set(model.capabilities ?? []);
  const tools = capabilities.has("tools");
  const vision = capabilities.has("vision");
  const where = placement(entry);
  const bits = count(details, "bits");
  const upstream = text(details, "upstream");
  return {
    id: model.id,
    object: "model",
    created,
    owned_by: where.ownedBy,
    root: model.upstreamId,
    x_concrete: model.upstreamId,
    x_odyssai: {
      ready: model.ready,
      loaded: model.ready,
      loading: flag(details, "loading"),
      warm: model.ready,
      admin_loadable: flag(details, "admin_loadable"),
      pool: where.pool,
      backend: where.backend,
      kind: where.kind,
      nodes: 1,
      kv_cache_q8: false,
      context_length: model.contextLength ?? null,
      max_output_tokens: null,
      quantization:
        text(details, "quantization") ?? (bits === undefined ? quantizationFromName(model.upstreamId) : `${bits}bit`),
      size_bytes: count(details, "size_bytes") ?? null,
      modalities: vision ? ["text", "image"] : ["text"],
      family:
        text(details, "family") ??
        text(details, "model_type") ??
        text(details, "arch") ??
        // A LAN engine's model name says its family; a cloud model's (gpt-4o, claude-3-5-haiku) does not.
        (text(details, "origin") === "cloud" ? null : familyFromName(model.upstreamId)),
      supports_tools: tools,
      supports_vision: vision,
      // Ithaca extension: answers carry `reasoning_content` (the chat template has thinking markers).
      supports_thinking: capabilities.has("thinking"),
      // Only where `response_format` is enforced: the local engine's models (capability `json-mode`).
      supports_json_mode: capabilities.has("json-mode"),
      supports_streaming: true,
      estimated_tps: null,
      estimated_load_s: null,
      alias_for: model.upstreamId,
      aliases: model.aliases ?? [],
      cluster_label: text(details, "cluster_label") ?? where.pool,
      // The keys OdyssAI-X puts on proxied (Telemak) entries.
      stream: true,
      tools,
      ...(upstream === undefined ? {} : { upstream, cluster: where.pool, short_id: shortModelName(model.upstreamId) }),
    },
  };
}
