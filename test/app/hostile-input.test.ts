/**
 * Hostile input (issue 11): deep JSON, cross-site media types, foreign Host and Origin, stalled bodies, requests
 * `new URL` cannot parse, junk of every kind. Each gets a prompt 4xx in the caller's dialect, never a stack trace or
 * a file path, and the server keeps serving. Real HTTP on 127.0.0.1; raw `node:net` sockets where fetch cannot send
 * the request.
 */
import { hostname, networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import * as crypto from "node:crypto";
import { connect } from "node:net";
import { Elysia } from "elysia";
import { authPlugin } from "../../plugins/auth.ts";
import { createAuthenticator } from "../../src/access/authenticate.ts";
import { createHostCheck, exposureWarnings, isLoopbackAddress } from "../../src/access/host-check.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";
import { requestPath } from "../../src/protocol/dialect.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const LIMIT = 64 * 1024;
let upstream: FakeUpstream;
let server: RunningIthaca;
let port: number;

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["org/Tiny-4bit"] });
  server = await startIthaca({
    server: { body_limit_bytes: LIMIT, body_timeout_ms: 300, allowed_hosts: ["Ithaca.LAN"] },
    upstreams: [{ id: "up1", kind: "openai-http", base_url: upstream.baseUrl }],
  });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  await server.close();
  upstream.stop();
});

interface RawResponse {
  /** 0 when no status line arrived. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Parses what arrived so far; `undefined` until a whole response (by Content-Length or chunked end) is there, or,
 * once the connection closed (`closed`), until the headers are.
 */
function parseResponse(data: Buffer, head: boolean, closed = false): RawResponse | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const [statusLine = "", ...lines] = data.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(" ")[1] ?? 0);
  const rest = data.subarray(end + 4);
  if (head) return { status, headers, body: "", closed };
  const length = headers["content-length"];
  if (length !== undefined) {
    return rest.length >= Number(length)
      ? { status, headers, body: rest.subarray(0, Number(length)).toString("utf8"), closed: false }
      : undefined;
  }
  const chunkedEnd = headers["transfer-encoding"]?.includes("chunked") && rest.includes("0\r\n\r\n");
  return chunkedEnd || closed ? { status, headers, body: rest.toString("utf8"), closed } : undefined;
}

/**
 * Writes `parts` to a fresh connection (in order, `gapMs` apart) and reads one response.
 * @param untilClose wait for the server to close the connection too.
 */
function raw(
  parts: (string | Uint8Array)[],
  options: { untilClose?: boolean; head?: boolean; gapMs?: number; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const { untilClose = false, head = false, gapMs = 0, timeoutMs = 10_000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    let parsed: RawResponse | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const last = parsed ?? parseResponse(data, head, true);
      resolve(last ? { ...last, closed } : { status: 0, headers: {}, body: data.toString("utf8"), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      parsed = parseResponse(data, head);
      if (parsed && !untilClose) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => {});
    socket.on("connect", async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await Bun.sleep(gapMs);
      }
    });
  });
}

/** An HTTP/1.1 request's text. */
function request(method: string, path: string, headers: Record<string, string> = {}, body = ""): string {
  const all: Record<string, string> = { host: `127.0.0.1:${port}`, ...headers };
  if (body !== "" && all["content-length"] === undefined) all["content-length"] = String(Buffer.byteLength(body));
  const lines = Object.entries(all).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n${body}`;
}

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
}

function post(path: string, body: RequestInit["body"], headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** Asserts an OpenAI-shaped error with `status` and `code`; returns it. */
async function expectOpenAIError(response: Response | RawResponse, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (response instanceof Response ? await response.json() : JSON.parse(response.body)) as OpenAIErrorBody;
  expect(body.error.code).toBe(code);
  return body.error;
}

/** Asserts an Anthropic-shaped error with `status`; returns it. */
async function expectAnthropicError(response: Response | RawResponse, status: number) {
  expect(response.status).toBe(status);
  const body = (response instanceof Response ? await response.json() : JSON.parse(response.body)) as AnthropicErrorBody;
  expect(body.type).toBe("error");
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

const hello = [{ role: "user", content: "hi" }];
const chat = JSON.stringify({ model: "up1", messages: hello });

async function expectChatWorks(): Promise<void> {
  const response = await post("/v1/chat/completions", chat);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
}

/** Whether an answer discloses the server's insides: a file path or a stack frame. */
function leaks(text: string): boolean {
  return /\/work\/|node_modules|\/src\/|\.ts:\d+|^\s*at\s.+:\d+/m.test(text);
}

describe("deeply nested JSON", () => {
  const depth = 10_000;
  const arrays = "[".repeat(depth) + "]".repeat(depth);
  const objects = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

  test("10,000 nested arrays: 400 invalid_json naming the depth limit", async () => {
    const error = await expectOpenAIError(await post("/v1/chat/completions", arrays), 400, "invalid_json");
    expect(error.message).toContain("64 levels");
    expect(error.message).toContain("server.max_json_depth");
  });

  test("10,000 nested objects: 400 invalid_json, in the Anthropic shape on /v1/messages", async () => {
    await expectOpenAIError(await post("/v1/chat/completions", objects), 400, "invalid_json");
    const error = await expectAnthropicError(await post("/v1/messages", objects), 400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain("server.max_json_depth");
  });

  test("one level past the limit is refused; brackets inside strings do not count", async () => {
    const deep = JSON.stringify({
      model: "up1",
      messages: hello,
      metadata: JSON.parse("[".repeat(64) + "]".repeat(64)),
    });
    await expectOpenAIError(await post("/v1/chat/completions", deep), 400, "invalid_json");
    const bracketed = JSON.stringify({ model: "up1", messages: [{ role: "user", content: `\\"${"[{".repeat(500)}` }] });
    expect((await post("/v1/chat/completions", bracketed)).status).toBe(200);
  });

  test("a normal request still works afterwards", expectChatWorks);
});

describe("text encoding", () => {
  const chat = (content: string) => JSON.stringify({ model: "up1", messages: [{ role: "user", content }] });

  test("a body that is not UTF-8 (a lone continuation byte, an overlong form): 400 invalid_json", async () => {
    const valid = Buffer.from(chat("Grüße, 世界"));
    for (const bad of [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf])]) {
      const at = valid.indexOf("Gr") + 2;
      const body = Buffer.concat([valid.subarray(0, at), bad, valid.subarray(at)]);
      const error = await expectOpenAIError(await post("/v1/chat/completions", body), 400, "invalid_json");
      expect(error.message.toLowerCase()).toContain("utf-8");
    }
  });

  test("valid UTF-8 of every width, the replacement character included, passes", async () => {
    expect((await post("/v1/chat/completions", Buffer.from(chat("Grüße, 世界, 🙂, \uFFFD")))).status).toBe(200);
  });
});

describe("media types", () => {
  test("text/plain on a JSON route: 415 unsupported_media_type, even for a valid JSON body", async () => {
    const error = await expectOpenAIError(
      await post("/v1/chat/completions", chat, { "content-type": "text/plain;charset=UTF-8" }),
      415,
      "unsupported_media_type",
    );
    expect(error.message).toContain("text/plain");
  });

  test("a form body: 415; on /v1/messages in the Anthropic shape; on /admin too", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    await expectOpenAIError(await post("/v1/chat/completions", "a=1", form), 415, "unsupported_media_type");
    const error = await expectAnthropicError(await post("/v1/messages", "a=1", form), 415);
    expect(error.message).toContain("application/x-www-form-urlencoded");
    await expectOpenAIError(await post("/admin/models/load", "a=1", form), 415, "unsupported_media_type");
  });

  test("a body without Content-Type: 415", async () => {
    const response = await raw([request("POST", "/v1/chat/completions", {}, chat)]);
    await expectOpenAIError(response, 415, "unsupported_media_type");
  });

  test("multipart: 415, even far past the size limit, answered without reading the body", async () => {
    const small = new FormData();
    small.append("model", "up1");
    await expectOpenAIError(
      await fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: small }),
      415,
      "unsupported_media_type",
    );
    // 10 MB announced, 1 KB sent: the answer comes without the rest (a 408 would mean it waited for it).
    const headers = { "content-type": "multipart/form-data; boundary=x", "content-length": String(10 * 1024 * 1024) };
    const response = await raw([request("POST", "/v1/chat/completions", headers) + "x".repeat(1024)]);
    await expectOpenAIError(response, 415, "unsupported_media_type");
  });

  test("JSON media types with parameters and +json suffixes are accepted", async () => {
    expect(
      (await post("/v1/chat/completions", chat, { "content-type": "Application/JSON; charset=utf-8" })).status,
    ).toBe(200);
    expect((await post("/v1/chat/completions", chat, { "content-type": "application/vnd.api+json" })).status).toBe(200);
  });

  test("an optional-body admin action accepts no body and no Content-Type", async () => {
    const response = await raw([request("POST", "/admin/sessions/clear", { "content-length": "0" })]);
    // Read as {}: clear everything (nothing here: no local engine).
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ cleared: 0 });
    const withBody = await raw([request("POST", "/admin/sessions/clear", {}, "{}")]);
    await expectOpenAIError(withBody, 415, "unsupported_media_type");
  });
});

describe("Host and Origin", () => {
  test("a foreign Host gets 421 misdirected_request, public routes included", async () => {
    for (const path of ["/health", "/v1/models", "/.well-known/inference-engine.json", "/v1/nothing"]) {
      const response = await raw([request("GET", path, { host: "attacker.example:8000" })]);
      const error = await expectOpenAIError(response, 421, "misdirected_request");
      expect(error.message).toContain("server.allowed_hosts");
    }
    const messages = await raw([
      request("POST", "/v1/messages", { host: "rebind.attacker.example", "content-type": "application/json" }, "{}"),
    ]);
    await expectAnthropicError(messages, 421);
  });

  test("IP literals, localhost, *.localhost and allowed_hosts pass", async () => {
    for (const host of [
      "127.0.0.1",
      `127.0.0.1:${port}`,
      "[::1]:8000",
      "localhost:8000",
      "LOCALHOST",
      "app.localhost",
      "ithaca.lan:8000",
      "Ithaca.Lan.",
    ]) {
      const response = await raw([request("GET", "/health", { host })]);
      expect({ host, status: response.status }).toEqual({ host, status: 200 });
    }
  });

  test("a malformed Host gets 421", async () => {
    for (const host of ["127.0.0.1:port", "[::1", "::1", "ithaca.lan.attacker.example"]) {
      const response = await raw([request("GET", "/health", { host })]);
      expect({ host, status: response.status }).toEqual({ host, status: 421 });
    }
  });

  test("open mode: a cross-site Origin gets 403, a local one passes", async () => {
    const body = { "content-type": "application/json" };
    for (const origin of ["https://attacker.example", "null", "http://ithaca.lan.attacker.example"]) {
      const response = await raw([request("POST", "/v1/chat/completions", { ...body, origin }, chat)]);
      expect({ origin, status: response.status }).toEqual({ origin, status: 403 });
      expect((JSON.parse(response.body) as OpenAIErrorBody).error.code).toBe("cross_origin_refused");
    }
    for (const origin of [`http://127.0.0.1:${port}`, "http://localhost:3000", "https://ithaca.lan"]) {
      const response = await raw([request("POST", "/v1/chat/completions", { ...body, origin }, chat)]);
      expect({ origin, status: response.status }).toEqual({ origin, status: 200 });
    }
  });

  test("with API keys the Origin is not checked (credentials protect the API)", () => {
    const keyed = createHostCheck({ allowedHosts: [], checkOrigin: false });
    const open = createHostCheck({ allowedHosts: [], checkOrigin: true });
    const crossSite = new Request("http://127.0.0.1/v1/models", { headers: { origin: "https://attacker.example" } });
    expect(keyed(crossSite)).toBeUndefined();
    expect(open(crossSite)?.status).toBe(403);
  });

  test("the machine's own name and its mDNS name are answered; a look-alike is not", () => {
    const check = createHostCheck({ allowedHosts: [], checkOrigin: true });
    const own = hostname().toLowerCase();
    const at = (host: string) => new Request(`http://${host}:8000/health`, { headers: { host: `${host}:8000` } });
    expect(check(at(own))).toBeUndefined();
    expect(check(at(`${own}.local`))).toBeUndefined();
    expect(check(at(`${own}.attacker.example`))?.status).toBe(421);
  });

  test("each request's Host is judged: alternating allowed and foreign hosts get their own verdicts", () => {
    const check = createHostCheck({ allowedHosts: ["ithaca.lan"], checkOrigin: true });
    const at = (host: string) => new Request("http://127.0.0.1/health", { headers: { host } });
    const verdicts = ["ithaca.lan", "evil.example", "evil.example", "127.0.0.1:8000", "evil.example", "ithaca.lan"].map(
      (host) => check(at(host))?.status ?? 200,
    );
    expect(verdicts).toEqual([200, 421, 421, 200, 421, 200]);
  });
});

describe("admin API without an admin token", () => {
  const admin = new Request("http://192.168.1.5:8000/admin/models");

  test("open mode: loopback clients pass, other hosts get 403 naming ITHACA_ADMIN_TOKEN", () => {
    const authenticate = createAuthenticator({ apiKeys: [] });
    for (const address of ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1", undefined]) {
      expect({ address, decision: authenticate(admin, () => address) }).toEqual({
        address,
        decision: { role: "open", scope: "open" },
      });
    }
    for (const address of ["192.168.1.20", "10.0.0.1", "::ffff:192.168.1.20", "fe80::1"]) {
      const decision = authenticate(admin, () => address);
      expect(decision).toBeInstanceOf(OpenAIError);
      expect((decision as OpenAIError).status).toBe(403);
      expect((decision as OpenAIError).code).toBe("admin_loopback_only");
      expect((decision as OpenAIError).message).toContain("ITHACA_ADMIN_TOKEN");
    }
    // /v1 stays open to everyone in open mode: only the admin API is restricted.
    expect(authenticate(new Request("http://192.168.1.5:8000/v1/models"), () => "192.168.1.20")).toEqual({
      role: "open",
      scope: "open",
    });
  });

  test("with an admin token, remote clients use it like local ones", () => {
    const authenticate = createAuthenticator({ apiKeys: [], adminToken: "adm" });
    const withToken = new Request(admin.url, { headers: { authorization: "Bearer adm" } });
    expect(authenticate(withToken, () => "192.168.1.20")).toEqual({ role: "admin", scope: "admin" });
    expect((authenticate(admin, () => "192.168.1.20") as OpenAIError).status).toBe(401);
  });

  test("over HTTP from loopback the admin API answers", async () => {
    const response = await fetch(`${server.url}/admin/models`);
    expect(response.status).toBe(200);
  });

  test("over HTTP from another address the admin API is refused (the client's address is read)", async () => {
    // This machine's own non-loopback address: a connection to it comes from it, not from loopback.
    const own = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry?.family === "IPv4" && !entry.internal)?.address;
    expect(own, "the test needs a non-loopback IPv4 address on this machine").toBeDefined();
    const lan = await startIthaca({}, { hostname: "0.0.0.0" });
    try {
      const port = new URL(lan.url).port;
      const fromLan = await fetch(`http://${own}:${port}/admin/models`);
      expect(fromLan.status).toBe(403);
      expect(((await fromLan.json()) as { error: { code: string } }).error.code).toBe("admin_loopback_only");
      expect((await fetch(`${lan.url}/admin/models`)).status).toBe(200);
    } finally {
      await lan.close();
    }
  });

  test("loopback addresses", () => {
    for (const address of ["127.0.0.1", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"])
      expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ["0.0.0.0", "::", "192.168.1.5", "ithaca.lan", "::ffff:10.0.0.1"])
      expect(isLoopbackAddress(address)).toBe(false);
  });

  test("a non-loopback bind warns loudly about what is open", () => {
    expect(exposureWarnings({ host: "127.0.0.1", apiKeysRequired: false, adminTokenRequired: false })).toEqual([]);
    const open = exposureWarnings({ host: "0.0.0.0", apiKeysRequired: false, adminTokenRequired: false });
    expect(open).toHaveLength(2);
    expect(open[0]).toContain("/v1");
    expect(open[0]).toContain("ITHACA_API_KEYS");
    expect(open[1]).toContain("ITHACA_ADMIN_TOKEN");
    expect(exposureWarnings({ host: "0.0.0.0", apiKeysRequired: true, adminTokenRequired: true })).toEqual([]);
  });
});

describe("stalled bodies", () => {
  test("headers and half a declared body: 408 request_timeout, connection closed", async () => {
    const half = chat.slice(0, chat.length / 2);
    const headers = { "content-type": "application/json", "content-length": String(chat.length) };
    const response = await raw([request("POST", "/v1/chat/completions", headers) + half], { untilClose: true });
    const error = await expectOpenAIError(response, 408, "request_timeout");
    expect(error.message).toContain("server.body_timeout_ms");
    expect(response.closed).toBe(true);
  });

  test("a chunked body that stops: 408, in the Anthropic shape on /v1/messages", async () => {
    const headers = { "content-type": "application/json", "transfer-encoding": "chunked" };
    const response = await raw([`${request("POST", "/v1/messages", headers)}5\r\n{"mod\r\n`], { untilClose: true });
    await expectAnthropicError(response, 408);
    expect(response.closed).toBe(true);
  });

  test("a slow but steady body within the deadline is read", async () => {
    const headers = { "content-type": "application/json", "content-length": String(chat.length) };
    const mid = Math.floor(chat.length / 2);
    const response = await raw(
      [request("POST", "/v1/chat/completions", headers) + chat.slice(0, mid), chat.slice(mid)],
      { gapMs: 50 },
    );
    expect(response.status).toBe(200);
  });
});

describe("requests new URL cannot parse", () => {
  test("requestPath never throws", () => {
    const path = (url: string) => requestPath({ url } as Request);
    expect(path("http://127.0.0.1:8000/v1/models?x=1")).toBe("/v1/models");
    expect(path("http://[::1]/a/b#frag")).toBe("/a/b");
    expect(path("/health")).toBe("/health");
    expect(path("example.com:443")).toBe("/");
    expect(path("")).toBe("/");
  });

  test("HTTP/1.0 GET /health without Host: 200 JSON", async () => {
    const response = await raw(["GET /health HTTP/1.0\r\n\r\n"]);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body) as { status: string }).status).toBe("ok");
  });

  test("HTTP/1.0 POST without Host reaches the route", async () => {
    const body = chat;
    const response = await raw([
      `POST /v1/chat/completions HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    ]);
    expect(response.status).toBe(200);
  });

  test("CONNECT: an error answer without stack or paths", async () => {
    for (const [target, host] of [
      ["example.com:443", "example.com:443"],
      [`127.0.0.1:${port}`, `127.0.0.1:${port}`],
    ]) {
      const response = await raw([`CONNECT ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`]);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(leaks(response.body)).toBe(false);
    }
  });
});

describe("fuzz", () => {
  /** mulberry32: a seeded generator, so a failure replays. */
  function random(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  test("200 junk requests: no answer discloses a path or a stack, and /health still answers", async () => {
    const rand = random(11);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rand() * 256))).join("");
    const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "FOO", ""];
    const paths = [
      "/health",
      "/v1/chat/completions",
      "/v1/messages",
      "/v1/responses",
      "/v1/models?include_unloaded=%zz",
      "/admin/models/load",
      "/admin/sessions/clear",
      "/.well-known/inference-engine.json",
      "/v1/../../etc/passwd",
      "*",
      "/%00",
      "//",
      "/swagger",
    ];
    const types = [
      "application/json",
      "text/plain",
      "multipart/form-data",
      "application/x-www-form-urlencoded",
      "application/json; charset=latin1",
      "",
      "\u00ff/\u00fe",
    ];
    const bodies = [
      () => chat,
      () => "{",
      () => "[".repeat(200),
      () => `{"model":"up1","messages":${"[".repeat(100)}${"]".repeat(100)}}`,
      () =>
        JSON.stringify({ model: pick(["up1", "", 5, null]), messages: pick([hello, "x", [{ role: junk(4) }], null]) }),
      () => junk(Math.floor(rand() * 200)),
      () => "",
    ];
    const hosts = [`127.0.0.1:${port}`, "localhost", "attacker.example", "", junk(8)];
    for (let i = 0; i < 200; i++) {
      const method = pick(methods);
      const body = pick(bodies)();
      const headers: Record<string, string> = { host: pick(hosts) };
      const type = pick(types);
      if (type) headers["content-type"] = type;
      if (rand() < 0.3) headers[`x-${i}`] = junk(10);
      if (rand() < 0.2) headers.authorization = `Bearer ${junk(12)}`;
      if (rand() < 0.2) headers["x-session-id"] = junk(6);
      if (rand() < 0.1) headers.origin = pick(["null", "https://attacker.example", "http://localhost"]);
      const length = Buffer.byteLength(body, "latin1");
      // Sometimes a declared length that does not match the body (short: the deadline answers).
      headers["content-length"] = String(rand() < 0.1 ? length + 5 : length);
      const lines = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join("\r\n");
      const text = `${method} ${pick(paths)} HTTP/1.1\r\n${lines}\r\n\r\n${body}`;
      const response = await raw([Buffer.from(text, "latin1")], { head: method === "HEAD", timeoutMs: 3000 });
      if (leaks(response.body))
        throw new Error(`request ${i} leaked: ${JSON.stringify(text.slice(0, 200))} → ${response.body.slice(0, 500)}`);
      expect(response.status === 0 || response.status < 500 || response.status === 502 || response.status === 503).toBe(
        true,
      );
    }
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    await expectChatWorks();
  }, 120_000);
});

describe("auth is decided once", () => {
  test("one SHA-256 per request with a key; none at all in open mode without an admin token", async () => {
    const expectedScope = `key:${crypto.createHash("sha256").update("sk-1", "utf8").digest("hex").slice(0, 16)}`;
    const keyed = new Elysia().use(authPlugin({ apiKeys: ["sk-1"] })).get("/v1/whoami", ({ caller }) => caller);
    const open = new Elysia().use(authPlugin({ apiKeys: [] })).get("/v1/whoami", ({ caller }) => caller);
    const asKey = () => new Request("http://127.0.0.1/v1/whoami", { headers: { authorization: "Bearer sk-1" } });
    const spy = spyOn(crypto, "createHash");
    try {
      spy.mockClear();
      const caller = await (await keyed.handle(asKey())).json();
      expect(caller).toEqual({ role: "client", scope: expectedScope });
      expect(spy.mock.calls.length).toBe(1);
      spy.mockClear();
      expect(await (await open.handle(asKey())).json()).toEqual({ role: "open", scope: "open" });
      expect(spy.mock.calls.length).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});
