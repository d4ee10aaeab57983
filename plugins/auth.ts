/**
 * auth — who is calling (DESIGN §2 step 1), decided once per request in `onRequest`, before the body is read, by
 * src/access/authenticate.ts; rejections are 401 (with `WWW-Authenticate: Bearer`) or 403 in the caller's dialect.
 *
 * Context: `caller` (`{ role: "open" | "client" | "admin", scope }`) for the plugins and routes after it.
 */
import { Elysia } from "elysia";
import { createAuthenticator, type AuthOptions, type Caller } from "../src/access/authenticate.ts";
import { OpenAIError } from "../src/protocol/errors.ts";
import { errorResponseFor } from "../src/protocol/dialect.ts";

/** The auth plugin (see the module comment). Applies to every route of the app that uses it. */
export function authPlugin(options: AuthOptions) {
  const authenticate = createAuthenticator(options);
  const callers = new WeakMap<Request, Caller>();
  return new Elysia({ name: "ithaca:auth" })
    .onRequest(({ request, server }) => {
      const decision = authenticate(request, () => server?.requestIP(request)?.address);
      if (decision instanceof OpenAIError) return errorResponseFor(request, decision);
      callers.set(request, decision);
    })
    .derive({ as: "global" }, ({ request }) => {
      const caller = callers.get(request);
      // onRequest decides every request before derive runs; a request it never saw is refused, not re-decided.
      if (caller === undefined) {
        throw new OpenAIError(500, "The request was not authenticated.", { code: "internal_error" });
      }
      return { caller };
    });
}
