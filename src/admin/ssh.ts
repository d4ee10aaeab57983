/**
 * `/admin/clusters/{id}/…` over SSH, for engines enrolled with an SSH target (behind the admin token; the operations
 * are in src/fleet/ssh-ops.ts):
 *
 * - `GET /admin/clusters/{id}/connection-test` — `{cluster, ok, ssh, latency_ms, reused, hostname, memory_bytes,
 *   ram_gb, host_key}`.
 * - `POST /admin/clusters/{id}/telemak/lifecycle {action: start|stop|restart|quit}` — a Telemak's app through
 *   `launchctl` (reference/odyssai-x-wire.md §3.4): `{cluster, action, ok, rc, ssh, stdout, stderr}`, the first 400
 *   characters of each stream; a command that ran and failed is `ok: false` with status 200.
 * - `POST /admin/clusters/{id}/service {action: start|stop|status}` — the command configured at enrolment
 *   (`ssh_commands`) for a Linux host, same answer (`status`: `ok` true when running, i.e. it exited 0).
 * - `GET /admin/clusters/{id}/logs?tail=N&follow=1` — the last N lines (default 100, at most 5000) of the engine's log
 *   as `{cluster, path, data: [{file, text}], stderr, truncated}`; with `follow=1`, a server-sent event stream: one
 *   `data: {"file","text"}` event per line, `: keepalive` every 10 s, `event: error` if it breaks; it ends when the
 *   client leaves (or after an hour).
 *
 * Errors name the engine: 404 `engine_not_found`; 409 `ssh_not_configured`, `not_a_telemak`,
 * `ssh_command_not_configured`, `ssh_log_not_configured`; 502 `ssh_unreachable`, `ssh_auth_failed`,
 * `ssh_host_key_changed` (both fingerprints named), `ssh_failed`; 504 `ssh_connect_timeout`, `ssh_command_timeout`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import { LOG_TAIL_DEFAULT, LOG_TAIL_MAX, type LogLine } from "../fleet/ssh-logs.ts";
import {
  LIFECYCLE_ACTIONS,
  type LifecycleAction,
  SERVICE_ACTIONS,
  type ServiceAction,
  type SshOps,
} from "../fleet/ssh-ops.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { SSE_HEADERS } from "../protocol/sse.ts";

/** Interval of the `: keepalive` comments of a followed log, in ms (OdyssAI-X: 10 s). */
export const LOG_KEEPALIVE_MS = 10_000;

const EngineParams = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,40}$/, "must be a slug: [a-z0-9][a-z0-9-]{0,40}")),
});
const LifecycleBody = v.strictObject({
  action: v.picklist(LIFECYCLE_ACTIONS, `must be one of ${LIFECYCLE_ACTIONS.join(", ")}`),
});
const ServiceBody = v.strictObject({
  action: v.picklist(SERVICE_ACTIONS, `must be one of ${SERVICE_ACTIONS.join(", ")}`),
});
const LogsQuery = v.object({
  tail: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,4}$/, `must be a whole number from 0 to ${LOG_TAIL_MAX}`),
      v.transform(Number),
      v.maxValue(LOG_TAIL_MAX, `must be at most ${LOG_TAIL_MAX}`),
    ),
  ),
  follow: v.optional(v.picklist(["true", "false", "1", "0"], "must be true or false")),
});

/** The routes (see the module comment). */
export function adminSshRoutes(ops: SshOps) {
  return (app: AnyElysia) =>
    app
      .get("/admin/clusters/:id/connection-test", ({ params }) => ops.connectionTest(params.id), {
        params: EngineParams,
        detail: { summary: "SSH connection test: latency, hostname, memory (admin)", tags: ["Admin"] },
      })
      .post(
        "/admin/clusters/:id/telemak/lifecycle",
        ({ params, body }) => ops.lifecycle(params.id, (body as { action: LifecycleAction }).action),
        {
          params: EngineParams,
          body: LifecycleBody,
          parse: "json",
          detail: {
            summary: "Start, stop, restart or quit a Telemak's app with launchctl over SSH (admin)",
            tags: ["Admin"],
          },
        },
      )
      .post(
        "/admin/clusters/:id/service",
        ({ params, body }) => ops.service(params.id, (body as { action: ServiceAction }).action),
        {
          params: EngineParams,
          body: ServiceBody,
          parse: "json",
          detail: {
            summary: "Run an engine's configured start, stop or status command over SSH (admin)",
            tags: ["Admin"],
          },
        },
      )
      .get(
        "/admin/clusters/:id/logs",
        async ({ params, query, request }) => {
          const lines = (query.tail as number | undefined) ?? LOG_TAIL_DEFAULT;
          if (query.follow !== "true" && query.follow !== "1") return ops.logs(params.id, lines);
          const stop = new AbortController();
          request.signal.addEventListener("abort", () => stop.abort(), { once: true });
          return sseLogResponse(await ops.follow(params.id, lines, stop.signal), stop);
        },
        {
          params: EngineParams,
          query: LogsQuery,
          detail: {
            summary: "An engine's log over SSH: its tail, or followed as server-sent events (admin)",
            tags: ["Admin"],
          },
        },
      );
}

/** Frames followed log lines as server-sent events (see the module comment); `stop` ends the SSH side. */
function sseLogResponse(batches: AsyncIterable<LogLine[]>, stop: AbortController): Response {
  const encoder = new TextEncoder();
  const iterator = batches[Symbol.asyncIterator]();
  let keepalive: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const finish = () => {
    closed = true;
    clearInterval(keepalive);
    stop.abort();
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(": following\n\n"));
      keepalive = setInterval(() => {
        if (!closed) controller.enqueue(encoder.encode(": keepalive\n\n"));
      }, LOG_KEEPALIVE_MS);
    },
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (closed) return;
        if (next.done) {
          finish();
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(next.value.map((line) => `data: ${JSON.stringify(line)}\n\n`).join("")));
      } catch (error) {
        if (closed) return;
        finish();
        const failure =
          error instanceof OpenAIError ? error : new OpenAIError(502, "the log stream broke", { code: "ssh_failed" });
        controller.enqueue(encoder.encode(`event: error\ndata: ${JSON.stringify(failure.toBody())}\n\n`));
        controller.close();
      }
    },
    cancel() {
      finish();
      void iterator.return?.();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}
