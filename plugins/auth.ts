/**
 * auth — who is calling (DESIGN §2 step 1), decided once per request in `onRequest`, before the body is read, by
 * src/access/authenticate.ts; rejections are 401 (with `WWW-Authenticate: Bearer`) or 403 in the caller's dialect.
 * A request with an issued key is then admitted against the key's limits (src/access/key-limits.ts: 429 with
 * `Retry-After`), and its place among the key's requests at once is given back when its answer has been sent.
 *
 * Context: `caller` (`{ role: "open" | "client" | "crew" | "admin", scope, key? }`) for the plugins and routes after it.
 */
import type { Server } from "bun";
import { Elysia } from "elysia";
import { createAuthenticator, type AuthOptions, type Caller } from "../src/access/authenticate.ts";
import type { KeyLimits } from "../src/access/key-limits.ts";
import { OpenAIError } from "../src/protocol/errors.ts";
import { errorResponseFor } from "../src/protocol/dialect.ts";
import { onResponseEnd } from "../src/protocol/response-end.ts";

/** The auth plugin (see the module comment). Applies to every route of the app that uses it. */
export function authPlugin(options: AuthOptions & { limits?: KeyLimits }) {
  const authenticate = createAuthenticator(options);
  const callers = new WeakMap<Request, Caller>();
  /** What gives a request's place back among its key's requests at once. */
  const releases = new WeakMap<Request, () => void>();
  const release = (request: Request) => {
    releases.get(request)?.();
    releases.delete(request);
  };
  // The server, for a client's address: taken once at start, not from each request's context (reading `server` there
  // makes Elysia define a getter on every request's context).
  let server: Server<unknown> | null = null;
  return new Elysia({ name: "ithaca:auth" })
    .onStart((app) => {
      server = app.server;
    })
    .onRequest(async ({ request }) => {
      const decision = authenticate(request, () => server?.requestIP(request)?.address);
      if (decision instanceof OpenAIError) return errorResponseFor(request, decision);
      if (decision.key && options.limits) {
        const admitted = await options.limits.admit(decision.key);
        if (admitted instanceof OpenAIError) return errorResponseFor(request, admitted);
        releases.set(request, admitted);
      }
      callers.set(request, decision);
    })
    .derive({ as: "global" }, ({ request }) => {
      const caller = callers.get(request);
      // onRequest decides every request before derive runs; a request it never saw is refused, not re-decided.
      if (caller === undefined) {
        throw new OpenAIError(500, "The request was not authenticated.", { code: "internal_error" });
      }
      return { caller };
    })
    .mapResponse({ as: "global" }, ({ request, responseValue }) => {
      if (!releases.has(request)) return;
      if (responseValue instanceof Response) {
        const done = releases.get(request) as () => void;
        releases.delete(request);
        return onResponseEnd(responseValue, done);
      }
      release(request); // a value is serialized and sent at once
    })
    .onError({ as: "global" }, ({ request }) => release(request));
}
