/**
 * How the local engine's models are described: what the registry knows about a model, and the view of it that
 * `GET /admin/models` returns (sizes in bytes, times as ISO 8601).
 */
import type { ModelInfo } from "../../engine/worker-messages.ts";
import type { ModelFacts } from "./inventory.ts";

/** A model the registry knows about, loaded or not. */
export interface KnownModel {
  id: string;
  path: string;
  aliases: string[];
  /** `config`: listed under `models:` (loaded at boot); `inventory`: found under `engine.models_dir`. */
  source: "config" | "inventory";
  facts: ModelFacts | { error: string };
}

export type ModelState = "unloaded" | "loading" | "loaded" | "unloading";

/** A model as `GET /admin/models` shows it (sizes in bytes, times as ISO 8601). */
export interface ModelView {
  id: string;
  aliases: string[];
  path: string;
  source: "config" | "inventory";
  state: ModelState;
  ready: boolean;
  arch: string | null;
  quantization: { bits: number; group_size: number } | null;
  dtype: string | null;
  context_length: number | null;
  /** `chat`, `stream`, `logprobs`, plus `tools` / `thinking` when the chat template supports them. */
  capabilities: string[];
  weight_bytes: number | null;
  kv_reserve_bytes: number | null;
  /** weights + KV reserve: what a load reserves against the budget. */
  estimated_bytes: number | null;
  /** Requests being answered by this model now. */
  in_flight: number;
  loaded_at: string | null;
  last_used_at: string | null;
  /** Why this model cannot be loaded (unreadable or unsupported `config.json`, missing weights). */
  error: string | null;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** `12.3 GiB`, `4.5 MiB`, `512 B`: a size for error messages. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (Math.abs(bytes) >= MiB) return `${(bytes / MiB).toFixed(2)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(2)} KiB`;
  return `${bytes} B`;
}

/** What the registry knows of a model's Worker and use, for {@link toModelView}. */
export interface ModelLiveState {
  state: ModelState;
  /** What the Worker reported after loading, when loaded. */
  info?: ModelInfo;
  /** Reserved (loaded) or estimated (unloaded) weight bytes; undefined when the directory cannot be read. */
  weightBytes?: number;
  /** Reserved or estimated KV reserve in bytes. */
  kvReserveBytes?: number;
  /** Requests holding the model now. */
  inFlight: number;
  /** The engine keeps KV caches between requests (`engine.prefix_cache.enabled`): capability `prefix-cache`. */
  prefixCache: boolean;
  /** Unix milliseconds. */
  loadedAt?: number;
  /** Unix milliseconds. */
  lastUsedAt?: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Builds the admin view of a model. */
export function toModelView(model: KnownModel, live: ModelLiveState): ModelView {
  const facts = "error" in model.facts ? undefined : model.facts;
  const { info, weightBytes, kvReserveBytes } = live;
  const quantization = info?.quantization ?? facts?.quantization;
  return {
    id: model.id,
    aliases: model.aliases,
    path: model.path,
    source: model.source,
    state: live.state,
    ready: live.state === "loaded",
    arch: info?.arch ?? facts?.arch ?? null,
    quantization: quantization ? { bits: quantization.bits, group_size: quantization.groupSize } : null,
    dtype: facts?.dtype ?? null,
    context_length: info?.contextLength ?? facts?.contextLength ?? null,
    capabilities: [
      // json-mode: response_format and forced tool calls are enforced (grammar-constrained decoding, llguidance).
      ...["chat", "stream", "logprobs", "json-mode", ...(live.prefixCache ? ["prefix-cache"] : [])],
      ...(info?.capabilities ?? facts?.capabilities ?? []),
    ],
    weight_bytes: weightBytes ?? null,
    kv_reserve_bytes: kvReserveBytes ?? null,
    estimated_bytes: weightBytes === undefined || kvReserveBytes === undefined ? null : weightBytes + kvReserveBytes,
    in_flight: live.inFlight,
    loaded_at: iso(live.loadedAt),
    last_used_at: iso(live.lastUsedAt),
    error: "error" in model.facts ? model.facts.error : null,
  };
}
