/**
 * Issue 12's flow end to end: a second Ithaca (running a real MLX model) and a Telemak (emulated) enrolled through
 * `/admin/clusters`, probed, listed and routed by id with the real openai and Anthropic SDKs; both still there after
 * a restart (the runtime database); the Telemak's outage seen (its models not ready, 503 with Retry-After) and its
 * return noticed with no request needed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { FakeTelemak } from "../helpers/fake-telemak.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { makeModel, tempDir } from "../helpers/paths.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const home = tempDir("ithaca-home-");
let inner: RunningIthaca;
let telemak: FakeTelemak;
let server: RunningIthaca;

beforeAll(async () => {
  inner = await startIthaca({ models: [{ id: "tiny", path: makeModel("qwen3", { seed: 5 }) }] });
  telemak = new FakeTelemak();
  server = await startIthaca({ home });
}, 120_000);

afterAll(async () => {
  await server.close();
  await inner.close();
  telemak.stop();
});

const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);
const openai = () => new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });

/** Whether `id` is listed ready, listed not ready, or absent. */
async function state(id: string): Promise<"ready" | "not ready" | "absent"> {
  const ready = (await admin("GET", "/v1/models")).json.data.map((model: { id: string }) => model.id);
  if (ready.includes(id)) return "ready";
  const all = (await admin("GET", "/v1/models?include_unloaded=true")).json.data.map((m: { id: string }) => m.id);
  return all.includes(id) ? "not ready" : "absent";
}

async function until(id: string, want: string, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  let now = await state(id);
  while (now !== want && Date.now() < deadline) {
    await Bun.sleep(100);
    now = await state(id);
  }
  return now;
}

/** Both engines answer by their ids, in both dialects. */
async function routed(): Promise<void> {
  const local = await openai().chat.completions.create({
    model: "inner:tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 4,
  });
  expect(local.choices[0]?.message.content?.length).toBeGreaterThan(0);
  expect(local.usage?.completion_tokens).toBe(4);
  const message = await anthropic().messages.create({
    model: "inner:tiny",
    max_tokens: 4,
    messages: [{ role: "user", content: "hi" }],
  });
  expect(message.usage.output_tokens).toBe(4);
  const viaTelemak = await openai().chat.completions.create({
    model: "studio",
    messages: [{ role: "user", content: "hello" }],
  });
  expect(viaTelemak.choices[0]?.message.content).toBe("Heard: hello");
  const anthropicViaTelemak = await anthropic().messages.create({
    model: "studio",
    max_tokens: 64,
    messages: [{ role: "user", content: "think" }],
  });
  expect(anthropicViaTelemak.content.map((block) => block.type)).toEqual(["thinking", "text"]);
}

test("enrol a second Ithaca and a Telemak, route by id, survive a restart", async () => {
  const ithaca = await admin("PUT", "/admin/clusters/inner", { kind: "ithaca", upstream: inner.url, name: "Inner" });
  expect(ithaca.status).toBe(200);
  expect(ithaca.json.probe).toMatchObject({ reachable: true, contract: { engine: "ithaca" } });
  expect(ithaca.json.engine.models).toEqual(["inner:tiny"]);
  const studio = await admin("PUT", "/admin/clusters/studio", {
    kind: "telemak",
    upstream: telemak.url,
    name: "Studio",
  });
  expect(studio.json.engine).toMatchObject({ kind: "telemak", available: true, models: ["studio:qwen3-4b-4bit"] });
  const listed = (await admin("GET", "/admin/clusters")).json.data;
  expect(listed.map((engine: { id: string; source: string }) => [engine.id, engine.source])).toEqual([
    ["inner", "enrolled"],
    ["studio", "enrolled"],
  ]);
  await routed();

  await server.close();
  server = await startIthaca({ home });
  expect(await until("inner:tiny", "ready")).toBe("ready");
  expect(await until("studio:qwen3-4b-4bit", "ready")).toBe("ready");
  await routed();
}, 120_000);

test("a Telemak's outage: not ready, 503 with Retry-After; back on its own", async () => {
  const port = telemak.port;
  telemak.stop();
  expect(await until("studio:qwen3-4b-4bit", "not ready")).toBe("not ready");
  const refused = await admin("POST", "/v1/chat/completions", {
    model: "studio",
    messages: [{ role: "user", content: "hello" }],
  });
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBeTruthy();
  expect(refused.json.error.message).toContain("upstream 'studio'");
  expect((await admin("GET", "/admin/clusters/studio")).json.available).toBe(false);
  telemak = new FakeTelemak(port);
  expect(await until("studio:qwen3-4b-4bit", "ready")).toBe("ready");
  expect((await admin("GET", "/admin/clusters/studio")).json.available).toBe(true);
  await routed();
}, 60_000);
