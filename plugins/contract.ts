/**
 * contract — what this Ithaca can serve, published at `GET /.well-known/inference-engine.json` (DESIGN §2 step 2).
 *
 * The document is computed from the catalog on each request (see `src/catalog/contract.ts` for its shape), so it
 * never advertises a model that is not servable. Upstream engines' own contracts and model lists are cached with a
 * TTL by their backends (`src/backends/http/probe.ts`) and re-probed after a failure; this plugin probes them all
 * once when the server starts, so the first request finds the catalog warm.
 *
 * The route is public (auth plugin), as Companion probes it without credentials.
 */
import { Elysia } from "elysia";
import type { Catalog } from "../src/catalog/catalog.ts";
import { buildContract, type ContractContext } from "../src/catalog/contract.ts";

export interface ContractPluginOptions {
  catalog: Catalog;
  context: ContractContext;
}

/** The contract plugin (see the module comment). */
export function contractPlugin({ catalog, context }: ContractPluginOptions) {
  return new Elysia({ name: "ithaca:contract" })
    .onStart(() => {
      void catalog.entries();
    })
    .get("/.well-known/inference-engine.json", async () => buildContract(await catalog.entries(), context), {
      detail: { summary: "Capability contract (OdyssAI-X and Telemak shapes)", tags: ["Discovery"] },
    });
}
