/**
 * runs — every inference request (`POST /v1/chat/completions`, `/v1/messages`, `/v1/responses`, `/v1/embeddings`)
 * as a run (src/routes/runs.ts), for `/admin/runs`, the request log and `/metrics`. Use it after the auth plugin: a
 * request refused there is not an inference request, and the run takes the caller's scope from it.
 *
 * - `onRequest`: the run begins when the request arrives (its duration counts the body's upload and parsing).
 * - Context: `run` (`Run | undefined`: undefined on other routes); routes hand it on in their `RoutedRequest`, record
 *   what they learn and end it with their answer (for a stream, when the stream ends).
 * - `afterResponse`: a run its handler did not end — an error before the handler (a bad body, an unknown model) or
 *   thrown by it — ends with the status and code of the error answered.
 */
import { Elysia } from "elysia";
import type { Caller } from "../src/access/authenticate.ts";
import { requestPath } from "../src/protocol/dialect.ts";
import { OpenAIError, toOpenAIError } from "../src/protocol/errors.ts";
import type { Run, Runs } from "../src/routes/runs.ts";

/** The routes whose requests are runs. */
export const RUN_ROUTES: ReadonlySet<string> = new Set([
  "/v1/chat/completions",
  "/v1/messages",
  "/v1/responses",
  "/v1/embeddings",
]);

/** Elysia error codes {@link toOpenAIError} maps without treating them as bugs. */
const EXPECTED_CODES = new Set(["VALIDATION", "PARSE", "NOT_FOUND"]);

/** The status and code an error was answered with (as the app's error handler words it). */
function answered(code: unknown, error: unknown, request: Request): { status: number; code: string } {
  const known =
    error instanceof OpenAIError || EXPECTED_CODES.has(String(code))
      ? toOpenAIError(String(code), error, request.method, requestPath(request))
      : undefined;
  return { status: known?.status ?? 500, code: known ? (known.code ?? known.type) : "internal_error" };
}

/** The runs plugin (see the module comment). */
export function runsPlugin(runs: Runs) {
  const begun = new WeakMap<Request, Run>();
  return new Elysia({ name: "ithaca:runs" })
    .onRequest(({ request }) => {
      if (request.method !== "POST") return;
      const path = requestPath(request);
      if (RUN_ROUTES.has(path)) begun.set(request, runs.begin(path, request.signal));
    })
    .derive({ as: "global" }, (context) => {
      const run = begun.get(context.request);
      const caller = (context as { caller?: Caller }).caller;
      if (run && caller) run.caller = caller.scope;
      return { run };
    })
    .onAfterResponse({ as: "global" }, (context) => {
      const run = begun.get(context.request);
      if (run === undefined || run.settled) return;
      const { error, code, body } = context as { error?: unknown; code?: unknown; body?: unknown };
      if (run.model === null) {
        const fields = body as { model?: unknown; stream?: unknown } | null | undefined;
        run.describe(typeof fields?.model === "string" ? fields.model : null, fields?.stream === true);
      }
      if (error !== undefined) {
        const failure = answered(code, error, context.request);
        run.end(failure.status, failure.code);
        return;
      }
      const response = (context as { responseValue?: unknown }).responseValue;
      run.end(response instanceof Response ? response.status : 200);
    });
}
