/**
 * CORS for configured origins only (telemak-companion-wire §9 #36): a listed origin gets a 204 preflight naming the
 * methods and headers clients send, and its answers carry its origin; another origin gets no CORS header (and, in
 * open mode, its request is refused); with no origin configured nothing answers CORS at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const APP = "http://app.example:3000";
let upstream: FakeUpstream;
let withCors: RunningIthaca;
let without: RunningIthaca;

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["m"] });
  const upstreams = [{ id: "up", base_url: upstream.baseUrl, models: ["m"] }];
  withCors = await startIthaca({ server: { cors_origins: [APP] }, upstreams });
  without = await startIthaca({ upstreams });
});

afterAll(async () => {
  await withCors.close();
  await without.close();
  upstream.stop();
});

const preflight = (server: RunningIthaca, origin: string) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, x-session-id",
    },
  });

const chat = (server: RunningIthaca, origin: string) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ model: "up:m", messages: [{ role: "user", content: "hi" }] }),
  });

describe("CORS", () => {
  test("a configured origin: 204 preflight with methods and headers, and its origin on answers", async () => {
    const response = await preflight(withCors, APP);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")).toContain("x-session-id");
    const answer = await chat(withCors, APP);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe(APP);
  });

  test("another origin gets no CORS header, and in open mode its request is refused", async () => {
    const response = await preflight(withCors, "https://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const answer = await chat(withCors, "https://evil.example");
    expect(answer.status).toBe(403);
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("no origin configured: no CORS at all", async () => {
    const response = await preflight(without, APP);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect((await chat(without, "http://localhost:5173")).headers.get("access-control-allow-origin")).toBeNull();
  });
});
