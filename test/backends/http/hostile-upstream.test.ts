/**
 * A misbehaving upstream behind a real Ithaca: what it sends is bounded (non-stream body, error body, SSE line),
 * garbage becomes a 502 naming it, redirects are not followed, a stream chunk without an `id` still translates, and
 * credentials in its `base_url` go out as Basic auth but never show in `/v1/models`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startIthaca, type RunningIthaca } from "../../helpers/start.ts";

const MiB = 1024 * 1024;
let upstream: ReturnType<typeof Bun.serve>;
let server: RunningIthaca;
/** Paths the upstream was asked for, and the Authorization headers it saw. */
const seen: Array<{ path: string; authorization: string | null }> = [];
/** Bytes the `flood` upstream has handed to its socket so far. */
let flooded = 0;

const chunk = (content: string, extra: object = {}) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;
const finish = `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`;
const sse = (body: string) => new Response(body, { headers: { "content-type": "text/event-stream" } });

/** The upstream's behaviour is the first path segment of its base URL. */
function answer(mode: string, request: Request): Response {
  switch (mode) {
    case "garbage":
      return new Response("<html>proxy error page</html>", { headers: { "content-type": "text/html" } });
    case "noid":
      return sse(chunk("Hello") + chunk(" world") + finish);
    case "redirect":
      return new Response(null, {
        status: 307,
        headers: { location: new URL("/sink/v1/chat/completions", request.url).href },
      });
    case "huge":
      return Response.json({ choices: [{ index: 0, message: { role: "assistant", content: "x".repeat(3 * MiB) } }] });
    case "longline":
      return sse(chunk("ok") + chunk("y".repeat(2 * MiB)) + finish);
    case "errbody":
      return new Response(`upstream exploded: ${"z".repeat(MiB)}`, { status: 500 });
    case "flood": {
      // As fast as the socket takes it, up to 512 MiB: only backpressure keeps it out of memory.
      const burst = new TextEncoder().encode(chunk("f".repeat(1000)).repeat(64));
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (flooded > 512 * MiB) return controller.close();
            controller.enqueue(burst);
            flooded += burst.byteLength;
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    }
    default:
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: "m",
        choices: [{ index: 0, message: { role: "assistant", content: "fine" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
      });
  }
}

const limits = { max_body_bytes: MiB, max_error_body_bytes: 1024, max_sse_line_bytes: MiB };

beforeAll(async () => {
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const path = new URL(request.url).pathname;
      seen.push({ path, authorization: request.headers.get("authorization") });
      if (request.method !== "POST") return new Response("not here", { status: 404 });
      return answer(path.split("/")[1] ?? "", request);
    },
  });
  const base = (mode: string) => `http://127.0.0.1:${upstream.port}/${mode}/v1`;
  const modes = ["garbage", "noid", "redirect", "huge", "longline", "errbody", "flood"];
  server = await startIthaca({
    upstreams: [
      ...modes.map((mode) => ({ id: mode, base_url: base(mode), models: ["m"], retry: { attempts: 1 }, limits })),
      { id: "creds", base_url: `http://alice:s3cret-pass@127.0.0.1:${upstream.port}/creds/v1`, models: ["m"] },
    ],
  });
});

afterAll(async () => {
  await server.close();
  upstream.stop(true);
});

async function post(path: string, body: object): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

const chat = (model: string, stream = false) =>
  post("/v1/chat/completions", { model, stream, messages: [{ role: "user", content: "hi" }] });
const messages = (model: string, stream = false) =>
  post("/v1/messages", { model, stream, max_tokens: 16, messages: [{ role: "user", content: "hi" }] });

describe("a hostile upstream", () => {
  test("a relayed stream follows its client's pace: a fast upstream is not read ahead into memory", async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "flood:m", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await Bun.sleep(300);
    const paused = flooded;
    await Bun.sleep(700);
    // The client reads nothing for a second: what the upstream got rid of is what the socket buffers and one
    // chunk in flight hold, a few MiB, and it stops growing.
    expect(flooded).toBeLessThan(32 * MiB);
    expect(flooded - paused).toBeLessThan(2 * MiB);
    let read = 0;
    for (let i = 0; i < 200; i++) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.byteLength;
    }
    expect(read).toBeGreaterThan(0);
    await reader.cancel();
  });

  test("a non-JSON 200 is a 502 naming the upstream, in the caller's dialect", async () => {
    const openai = await chat("garbage:m");
    expect(openai.status).toBe(502);
    expect(JSON.parse(openai.text).error).toMatchObject({ code: "upstream_invalid_response" });
    expect(openai.text).toContain("upstream 'garbage'");
    const anthropic = await messages("garbage:m");
    expect(anthropic.status).toBe(502);
    expect(JSON.parse(anthropic.text)).toMatchObject({ type: "error", error: { type: "api_error" } });
    expect(anthropic.text).toContain("upstream 'garbage'");
  });

  test("stream chunks without id, created or model still translate to Anthropic events", async () => {
    const { status, text } = await messages("noid:m", true);
    expect(status).toBe(200);
    expect(text).toContain("event: message_start");
    expect(text).toContain('"text":"Hello"');
    expect(text).toContain("event: message_stop");
    expect(text).not.toContain("TypeError");
  });

  test("a redirect is not followed: 502, and the prompt goes nowhere else", async () => {
    const before = seen.filter((s) => s.path.startsWith("/sink")).length;
    const { status, text } = await chat("redirect:m");
    expect(status).toBe(502);
    expect(JSON.parse(text).error.code).toBe("upstream_redirect");
    expect(seen.filter((s) => s.path.startsWith("/sink")).length).toBe(before);
  });

  test("a non-stream body over limits.max_body_bytes is a 502", async () => {
    const { status, text } = await chat("huge:m");
    expect(status).toBe(502);
    expect(JSON.parse(text).error.code).toBe("upstream_response_too_large");
  });

  test("an SSE line over limits.max_sse_line_bytes ends the stream with an in-band error", async () => {
    const { status, text } = await chat("longline:m", true);
    expect(status).toBe(200);
    expect(text).toContain('"content":"ok"');
    // Bytes are relayed as they come (nothing is buffered); the line is cut at the first chunk past the bound.
    expect(text.endsWith("\n\n")).toBe(true);
    expect(text.slice(-400)).toContain("upstream_response_too_large");
    expect(text.length < 2 * MiB).toBe(true);
  });

  test("an error body is read only up to limits.max_error_body_bytes", async () => {
    const { status, text } = await chat("errbody:m");
    expect(status).toBe(502);
    expect(text).toContain("upstream 'errbody' returned 500");
    expect(text.length).toBeLessThan(2048);
  });

  test("base_url credentials go out as Basic auth and never show", async () => {
    const { status } = await chat("creds:m");
    expect(status).toBe(200);
    const sent = seen.filter((s) => s.path === "/creds/v1/chat/completions").at(-1);
    expect(sent?.authorization).toBe(`Basic ${Buffer.from("alice:s3cret-pass").toString("base64")}`);
    const models = await (await fetch(`${server.url}/v1/models`)).text();
    expect(models).toContain("creds:m");
    expect(models).not.toContain("s3cret-pass");
    expect(models).not.toContain("alice");
  });
});
