#!/usr/bin/env bun
/**
 * The fast fixture upstream of `bench/proxy-overhead.ts`: an OpenAI-compatible server that answers at once, with
 * fixed bodies, so that what a proxy in front of it adds is all that varies.
 *
 *   bun bench/proxy/fixture-upstream.ts [--port 0]
 *
 * - `POST /v1/chat/completions`, `stream` false: a small `chat.completion` with usage;
 * - the same with `stream: true`: 10 `chat.completion.chunk` events (role, 8 content pieces, finish_reason), a usage
 *   chunk, `data: [DONE]`, each enqueued separately with no delay;
 * - `GET /v1/models`: one model, `m`;
 * - anything else: 404.
 * The response's `model` echoes the request's. Prints `fixture listening on http://127.0.0.1:<port>` when ready.
 */
import { parseArgs } from "node:util";

const CREATED = 1_700_000_000;
const PIECES = ["Hello", "!", " How", " can", " I", " help", " you", " today?"];
const USAGE = { prompt_tokens: 12, completion_tokens: PIECES.length, total_tokens: 12 + PIECES.length };

function completion(model: string): string {
  return JSON.stringify({
    id: "chatcmpl-fixture",
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [
      { index: 0, message: { role: "assistant", content: PIECES.join("") }, logprobs: null, finish_reason: "stop" },
    ],
    usage: USAGE,
  });
}

/** The SSE events of a streamed answer, `data: …\n\n` each, `[DONE]` last. */
function events(model: string): Uint8Array[] {
  const chunk = (choices: unknown[], usage: unknown = null) =>
    JSON.stringify({
      id: "chatcmpl-fixture",
      object: "chat.completion.chunk",
      created: CREATED,
      model,
      choices,
      usage,
    });
  const delta = (d: Record<string, string>, finish: string | null = null) => [
    { index: 0, delta: d, logprobs: null, finish_reason: finish },
  ];
  const data = [
    chunk(delta({ role: "assistant", content: "" })),
    ...PIECES.map((p) => chunk(delta({ content: p }))),
    chunk(delta({}, "stop")),
    chunk([], USAGE),
    "[DONE]",
  ];
  const enc = new TextEncoder();
  return data.map((d) => enc.encode(`data: ${d}\n\n`));
}

const MODELS = JSON.stringify({
  object: "list",
  data: [{ id: "m", object: "model", created: CREATED, owned_by: "fixture" }],
});
const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

const { values } = parseArgs({ args: process.argv.slice(2), options: { port: { type: "string", default: "0" } } });
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(values.port),
  idleTimeout: 0,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/v1/models") return new Response(MODELS, { headers: JSON_HEADERS });
    if (req.method !== "POST" || path !== "/v1/chat/completions") return new Response("not found", { status: 404 });
    let body: { model?: unknown; stream?: unknown };
    try {
      body = (await req.json()) as typeof body;
    } catch {
      return Response.json({ error: { message: "invalid JSON", type: "invalid_request_error" } }, { status: 400 });
    }
    const model = typeof body.model === "string" ? body.model : "m";
    if (body.stream !== true) return new Response(completion(model), { headers: JSON_HEADERS });
    const parts = events(model);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    return new Response(stream, { headers: SSE_HEADERS });
  },
});
console.log(`fixture listening on http://127.0.0.1:${server.port}`);
