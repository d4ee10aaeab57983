/**
 * router — which backend answers (DESIGN §2 step 4).
 *
 * The requested `model` is resolved through the catalog into candidates (an id, or an alias several replicas may
 * share; see `src/catalog/catalog.ts`), then every registered routing policy, in registration order, may reorder or
 * filter them; the first candidate left answers. Unknown models get 404 `model_not_found` listing what is servable.
 *
 * Context: `router` (decorator, for plugins registering policies) and, on routes declaring `routed: true`, `route`
 * (the chosen {@link CatalogEntry}: `route.backend`, `route.model`) and `plan` (every entry to try in order: the
 * chosen one, the other candidates, then the configured fallbacks; see {@link Router.plan}). A caller with an issued
 * key gets only the entries its models allow (403 `model_not_allowed` when none).
 *
 * The app registers one policy by default, session affinity (src/routing/session-affinity.ts: a conversation stays on
 * the replica its session id hashes to, and moves to its next-best replica only when that one fails).
 *
 * A custom routing plugin is an ordinary Elysia plugin: wrap a {@link RoutingPolicy} with {@link routingPolicy} and
 * `.use()` it after this plugin (or list its module under `plugins:` in ithaca.yaml); it runs after the built-in
 * policy. See plugins/README.md.
 */
import { Elysia, type AnyElysia } from "elysia";
import type { Caller } from "../src/access/authenticate.ts";
import type { CanonicalChatRequest } from "../src/protocol/canonical.ts";
import type { CatalogEntry } from "../src/catalog/catalog.ts";
import { OpenAIError } from "../src/protocol/errors.ts";
import { Router, type RoutingPolicy } from "../src/routing/router.ts";
import { sessionPlugin } from "./session.ts";

/** 403 for a model an issued key may not use. */
function notAllowed(keyId: string, model: string): OpenAIError {
  return new OpenAIError(403, `API key '${keyId}' may not use model '${model}'.`, {
    type: "permission_error",
    code: "model_not_allowed",
    param: "model",
  });
}

function isChatBody(body: unknown): body is CanonicalChatRequest {
  return body !== null && typeof body === "object" && "model" in body && typeof body.model === "string";
}

/** The router plugin (see the module comment). */
export function routerPlugin(router: Router) {
  return new Elysia({ name: "ithaca:router" })
    .use(sessionPlugin())
    .decorate("router", router)
    .macro({
      /** Resolve `body.model` to a backend before the handler runs (after validation). */
      routed: {
        async resolve(context) {
          // Fields read one by one: a rest pattern would copy the whole context on every request.
          const { body, sessionId, request } = context;
          if (!isChatBody(body)) throw new OpenAIError(400, "Missing required parameter: 'model'.", { param: "model" });
          const plan = await router.plan({ model: body.model, sessionId, body, headers: request.headers });
          const key = (context as { caller?: Caller }).caller?.key;
          if (!key) return { route: plan[0] as CatalogEntry, plan };
          // An issued key uses only its models: the one asked for, or what it resolved to (fallbacks included).
          const allowed = key.allows(body.model) ? plan : plan.filter((entry) => key.allows(entry.model.id));
          if (allowed.length === 0) throw notAllowed(key.id, body.model);
          return { route: allowed[0] as CatalogEntry, plan: allowed };
        },
      },
    });
}

/**
 * Wraps a policy as an Elysia plugin: `app.use(routingPolicy(myPolicy))`. The app must already use
 * {@link routerPlugin}; the policy is registered with that app's router.
 * @throws Error when the app has no router.
 */
export function routingPolicy(policy: RoutingPolicy) {
  return (app: AnyElysia) => {
    const router: unknown = (app.decorator as Record<string, unknown>).router;
    if (!(router instanceof Router)) {
      throw new Error(`routing policy '${policy.name}' needs an app that uses the router plugin first`);
    }
    router.registerPolicy(policy);
    return app;
  };
}
