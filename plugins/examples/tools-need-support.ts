/**
 * Example routing plugin: requests that carry tools go only to replicas that support them.
 *
 * When a model id names several replicas and the request has a non-empty `tools` array, the candidates whose
 * catalog entry lacks the `tools` capability are dropped; if none is left the client gets 400 (param `tools`).
 * Requests without tools keep the candidates as they are.
 *
 * Use it from ithaca.yaml (`plugins: [./plugins/examples/tools-need-support.ts]`) or in code:
 * `app.use(routingPolicy(toolsNeedSupport))`. Walkthrough: plugins/README.md.
 */
import { OpenAIError } from "../../src/protocol/errors.ts";
import type { RoutingPolicy } from "../../src/routing/router.ts";
import { routingPolicy } from "../router.ts";

export const toolsNeedSupport: RoutingPolicy = {
  name: "tools-need-support",
  select(candidates, { body }) {
    if (!Array.isArray(body.tools) || body.tools.length === 0) return candidates;
    const able = candidates.filter((entry) => entry.model.capabilities?.includes("tools"));
    if (able.length === 0) throw new OpenAIError(400, "No replica of this model supports tools", { param: "tools" });
    return able;
  },
};

export default routingPolicy(toolsNeedSupport);
