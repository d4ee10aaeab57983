/**
 * How an upstream's models enter the catalog (reference/odyssai-x-wire.md §2.2-§2.3): ids `<upstream>:<short>`, the
 * bare upstream id and (for a single model) the upstream id as aliases, capabilities from the upstream's contract, and
 * the `details` that `/v1/models` renders into `x_odyssai` (see openai-models.ts).
 */
import type { BackendModel } from "../backend.ts";
import type { UpstreamConfig } from "../../config/schema.ts";
import { shortModelName } from "../../protocol/model-ids.ts";
import { publicBaseUrl } from "./endpoint.ts";
import type { UpstreamContract, UpstreamModel } from "./probe.ts";

/**
 * The catalog entries of an upstream's models: `<upstream>:<short>` ids (the lower-cased full id when two short
 * names collide), with the bare upstream id as an alias, and the upstream id alone when it serves a single model
 * (odyssai-x-wire §2.3). The `cluster_label` Companion shows as a Telemak model's name is the engine's label, with
 * the model's name after it when the engine serves several (telemak-companion-wire §6.5, §9 #12).
 */
export function publishUpstreamModels(
  upstream: UpstreamConfig,
  models: readonly UpstreamModel[],
  contract: UpstreamContract | null,
  ready = true,
): BackendModel[] {
  const shorts = models.map((model) => shortModelName(model.id));
  return models.map((model) => {
    const short = shortModelName(model.id);
    const unique = shorts.filter((other) => other === short).length === 1;
    const stated = contract?.models.get(model.id);
    return {
      id: `${upstream.id}:${unique ? short : model.id.toLowerCase()}`,
      upstreamId: model.id,
      // The upstream id alone names its model when it serves one; with several it is ambiguous (400), not unknown.
      aliases: [model.id, upstream.id],
      contextLength: model.contextLength ?? stated?.contextLength ?? contract?.maxContext,
      ready,
      capabilities: modelCapabilities(contract, stated?.capabilities),
      details: {
        cluster: upstream.id,
        // Companion names a Telemak's models by this label: with several, each needs its own.
        cluster_label:
          models.length > 1
            ? `${upstream.label ?? upstream.id} · ${model.id.split("/").at(-1)}`
            : (upstream.label ?? upstream.id),
        upstream: publicBaseUrl(upstream.base_url),
        origin: upstream.cloud ? "cloud" : "lan",
        engine: contract?.engine ?? upstream.engine,
        engine_version: contract?.version,
      },
    };
  });
}

/**
 * A model's capabilities as its engine's contract states them: the model's own when the contract lists them (an
 * Ithaca's `models[].capabilities`; a Telemak's `x_telemak.kind`), else the engine's (`tools`, `vision`); plus
 * `prefix-cache` when the engine keeps a KV cache per session (not for an embedder). No contract: none.
 */
function modelCapabilities(contract: UpstreamContract | null, stated: string[] | undefined): string[] {
  if (!contract) return [];
  const all = new Set(stated ?? [...(contract.tools ? ["tools"] : []), ...(contract.vision ? ["vision"] : [])]);
  if (contract.sessionCache && !all.has("embeddings")) all.add("prefix-cache");
  return [...all];
}

/**
 * The catalog entries of an upstream's `published` models: the alias is the id (`or:claude-haiku`), the upstream's
 * own id is what goes on the wire, and the declared capabilities and context length are published as given.
 */
export function publishedModels(upstream: UpstreamConfig): BackendModel[] {
  return (upstream.published ?? []).map((published) => ({
    id: published.alias,
    upstreamId: published.model,
    aliases: [`${upstream.id}:${shortModelName(published.model)}`],
    contextLength: published.context_length,
    ready: true,
    capabilities: published.capabilities,
    details: {
      cluster: upstream.id,
      cluster_label: upstream.label ?? upstream.id,
      upstream: publicBaseUrl(upstream.base_url),
      origin: upstream.cloud || upstream.kind === "anthropic-http" ? "cloud" : "lan",
      engine: upstream.kind === "anthropic-http" ? "anthropic" : undefined,
    },
  }));
}
