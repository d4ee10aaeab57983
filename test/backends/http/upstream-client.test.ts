/**
 * The upstream client on its own, against a real loopback server: what a non-stream answer and a relayed stream
 * carry on (kept headers, bytes unchanged, the edges usage is read from), the idle deadline of a stream (one
 * re-arming timer), draining, a client that leaves mid-stream, failures before the first byte, and the declared-size
 * bound (a raw socket that lies about its length). Over HTTP through Ithaca: hostile-upstream.test.ts, ../openai/passthrough.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AddressInfo, createServer } from "node:net";
import type { BackendCallContext } from "../../../src/backends/backend.ts";
import { UpstreamClient, type UpstreamRequest } from "../../../src/backends/http/upstream-client.ts";
import { REPO_ROOT, resolveConfig } from "../../../src/config/load.ts";
import type { UpstreamConfig } from "../../../src/config/schema.ts";
import { OpenAIError, upstreamHttpError } from "../../../src/protocol/errors.ts";
import { sseError } from "../../../src/protocol/sse.ts";
import { closedPort } from "../../helpers/fake-upstream.ts";

const encoder = new TextEncoder();
const event = (i: number, pad = 0) => `data: {"n":${i},"pad":"${"x".repeat(pad)}"}\n\n`;
let server: ReturnType<typeof Bun.serve>;
/** Set by a test: resolves when the upstream saw its client go away. */
let upstreamAborted: Promise<void> = Promise.resolve();

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(request) {
      const mode = new URL(request.url).pathname.split("/")[1];
      if (mode === "json") {
        return new Response('{"id":"x","usage":{"prompt_tokens":3}}', {
          headers: { "content-type": "application/json", "x-internal": "secret", "x-request-id": "up-1" },
        });
      }
      // Streams: `long` sends 40 events of ~1 KiB; `stall` two events and then nothing; `slow` an event every 20 ms.
      let stop = () => {};
      upstreamAborted = new Promise((resolve) => (stop = resolve));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          const count = mode === "long" ? 40 : mode === "stall" ? 2 : 10;
          for (let i = 0; i < count; i++) {
            if (request.signal.aborted) return;
            controller.enqueue(encoder.encode(event(i, mode === "long" ? 1000 : 0)));
            if (mode === "slow") await Bun.sleep(20);
          }
          if (mode === "stall") return; // Never closes.
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
        },
      });
      request.signal.addEventListener("abort", () => stop(), { once: true });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
});

afterAll(() => server.stop(true));

/** A client of the fixture's `mode` path, with short deadlines and no retry. */
function client(mode: string, over: Record<string, unknown> = {}): UpstreamClient {
  const config = resolveConfig(
    {
      models: [],
      upstreams: [
        {
          id: mode,
          base_url: `http://127.0.0.1:${server.port}/${mode}`,
          models: ["m"],
          retry: { attempts: 1 },
          timeout_ms: { connect: 1000, first_byte: 1000, idle: 150 },
          ...over,
        },
      ],
    },
    { baseDir: REPO_ROOT, env: {}, source: "test" },
  );
  return new UpstreamClient(config.upstreams[0] as UpstreamConfig, { httpError: upstreamHttpError }, {});
}

const ctx = (signal = new AbortController().signal): BackendCallContext => ({
  model: { id: "m", upstreamId: "m", ready: true },
  signal,
  requestId: "test-1",
});
const request = (stream: boolean): UpstreamRequest => ({ path: "/x", body: { model: "m" }, stream });

describe("UpstreamClient", () => {
  test("a non-stream answer: bytes unchanged, only the kept headers, usage seen, nothing left in flight", async () => {
    const c = client("json");
    let seen = "";
    const answer = await c.bytes(await c.open(request(false), ctx()), "openai", (bytes) => {
      seen = new TextDecoder().decode(bytes);
    });
    expect(answer).toMatchObject({ kind: "bytes", dialect: "openai", stream: false, status: 200, upstream: "json" });
    expect(answer.headers).toEqual({ "content-type": "application/json", "x-request-id": "up-1" });
    expect(new TextDecoder().decode(answer.body as Uint8Array)).toBe('{"id":"x","usage":{"prompt_tokens":3}}');
    expect(seen).toContain('"prompt_tokens":3');
    expect(c.counters).toMatchObject({ requests: 1, in_flight: 0, errors: 0 });
  });

  test("a relayed stream: bytes unchanged, and its first and last 8 KiB handed over when it ends", async () => {
    const c = client("long");
    let ends = { head: "", tail: "" };
    const answer = c.relay(await c.open(request(true), ctx()), "openai", sseError, (seen) => (ends = seen));
    const text = await new Response(answer.body).text();
    expect(text).toBe(`${Array.from({ length: 40 }, (_, i) => event(i, 1000)).join("")}data: [DONE]\n\n`);
    expect(ends.head.startsWith(event(0, 1000))).toBe(true);
    expect(ends.tail.endsWith(`${event(39, 1000)}data: [DONE]\n\n`)).toBe(true);
    expect(ends.head.length).toBeLessThanOrEqual(8 * 1024);
    expect(ends.tail.length).toBeLessThanOrEqual(8 * 1024);
    expect(c.counters.in_flight).toBe(0);
  });

  test("a stream that stalls past the idle deadline ends with an in-band 504; one that keeps talking does not", async () => {
    const stalled = client("stall");
    const answer = stalled.relay(await stalled.open(request(true), ctx()), "openai", sseError);
    const text = await new Response(answer.body).text();
    expect(text.startsWith(event(0) + event(1))).toBe(true);
    expect(text).toContain("upstream 'stall' timed out after 150 ms waiting for the next event");
    expect(stalled.counters).toMatchObject({ timeouts: 1, in_flight: 0 });
    // 10 events 20 ms apart: 200 ms in all, longer than one idle period but never idle that long.
    const talking = client("slow");
    const slow = talking.relay(await talking.open(request(true), ctx()), "openai", sseError);
    expect(await new Response(slow.body).text()).toEndWith("data: [DONE]\n\n");
    expect(talking.counters.timeouts).toBe(0);
  });

  test("drain resolves only once the stream in flight has ended", async () => {
    const c = client("slow");
    const answer = c.relay(await c.open(request(true), ctx()), "openai", sseError);
    let drained = false;
    const draining = c.drain().then(() => (drained = true));
    await Bun.sleep(30);
    expect(drained).toBe(false);
    await new Response(answer.body).text();
    await draining;
    expect(drained).toBe(true);
  });

  test("a client that stops reading aborts the upstream and is counted", async () => {
    const c = client("stall");
    const answer = c.relay(await c.open(request(true), ctx()), "openai", sseError);
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await upstreamAborted;
    expect(c.counters).toMatchObject({ aborted: 1, in_flight: 0 });
  });

  test("failures before the first byte are thrown: unreachable → 502 naming it, a client already gone → 499", async () => {
    const dead = client("dead", { base_url: `http://127.0.0.1:${closedPort()}/v1` });
    const unreachable = await dead.open(request(false), ctx()).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(OpenAIError);
    expect(unreachable).toMatchObject({ status: 502, code: "upstream_unreachable" });
    expect((unreachable as OpenAIError).message).toContain("upstream 'dead'");
    const gone = await client("json")
      .open(request(false), ctx(AbortSignal.abort()))
      .catch((error: unknown) => error);
    expect(gone).toMatchObject({ status: 499, code: "client_closed" });
  });

  test("a declared body over limits.max_body_bytes is refused before it is read", async () => {
    // Bun.serve writes the true length, so the lying upstream is a raw socket: it declares 1 GB and sends 2 bytes.
    const liar = createServer((socket) => {
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n{}");
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
    try {
      const port = (liar.address() as AddressInfo).port;
      const c = client("liar", { base_url: `http://127.0.0.1:${port}/v1`, limits: { max_body_bytes: 1024 } });
      const error = await c.readBody(await c.open(request(false), ctx())).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 502, code: "upstream_response_too_large" });
      expect(c.counters.in_flight).toBe(0);
    } finally {
      liar.close();
    }
  });
});
