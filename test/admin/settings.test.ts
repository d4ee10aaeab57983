/**
 * `GET|PUT /admin/settings` with real parts: a real Ithaca with a real local model (a Qwen3-layout model whose chat
 * template reads `enable_thinking`) and a fake upstream, called with the openai SDK. `enable_thinking_default` applies
 * to local requests that do not say (the prompt is rendered as with the explicit value: same prompt token count),
 * never to what an upstream gets; it persists across a restart; a bad field is a 400 naming it; admin-only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { makeModel, tempDir } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const ADMIN = "admin-settings";
const admin = { authorization: `Bearer ${ADMIN}` };
const MESSAGES = [{ role: "user" as const, content: "Is the sea deep?" }];

let home: string;
let model: string;
let fake: FakeUpstream;
let server: RunningIthaca;

function start(): Promise<RunningIthaca> {
  return startIthaca(
    {
      home,
      auth: { admin_token_env: "SETTINGS_ADMIN" },
      models: [{ id: "tiny", path: model }],
      upstreams: [{ id: "fx", base_url: fake.baseUrl, models: ["m"] }],
    },
    { env: { SETTINGS_ADMIN: ADMIN } },
  );
}

/** The prompt tokens of a one-token local answer, with `enable_thinking` as given (absent: not sent). */
async function promptTokens(enableThinking?: boolean): Promise<number> {
  const openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
  const extra = enableThinking === undefined ? {} : { enable_thinking: enableThinking };
  const answer = await openai.chat.completions.create({ model: "tiny", messages: MESSAGES, max_tokens: 1, ...extra });
  return answer.usage?.prompt_tokens ?? -1;
}

const put = (body: unknown) => jsonCall(server.url, "PUT", "/admin/settings", body, admin);

beforeAll(async () => {
  home = tempDir("ithaca-settings-home-");
  model = makeModel("qwen3", { seed: 51 });
  fake = new FakeUpstream({ models: ["m"] });
  server = await start();
});

afterAll(async () => {
  await server?.close();
  fake?.stop();
});

describe("operator settings", () => {
  let withThinking: number;
  let withoutThinking: number;
  let templateDefault: number;

  test("unset by default: a request that does not say gets what the chat template decides", async () => {
    const { status, json } = await jsonCall(server.url, "GET", "/admin/settings", undefined, admin);
    expect(status).toBe(200);
    expect(json).toEqual({ enable_thinking_default: null });
    withThinking = await promptTokens(true);
    withoutThinking = await promptTokens(false);
    templateDefault = await promptTokens();
    expect(withoutThinking).not.toBe(withThinking); // the template renders the two differently
  });

  test("PUT enable_thinking_default: false applies to local requests that do not say", async () => {
    expect(await put({ enable_thinking_default: false })).toMatchObject({
      status: 200,
      json: { enable_thinking_default: false },
    });
    expect(await promptTokens()).toBe(withoutThinking);
    expect(await promptTokens(true)).toBe(withThinking); // a request that says keeps its own
  });

  test("an upstream gets what its client sent", async () => {
    const openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    await openai.chat.completions.create({ model: "fx:m", messages: MESSAGES });
    expect(fake.last.body).not.toHaveProperty("enable_thinking");
  });

  test("it persists across a restart", async () => {
    await server.close();
    server = await start();
    expect((await jsonCall(server.url, "GET", "/admin/settings", undefined, admin)).json).toEqual({
      enable_thinking_default: false,
    });
    expect(await promptTokens()).toBe(withoutThinking);
  });

  test("true, then null (back to the template's choice)", async () => {
    expect((await put({ enable_thinking_default: true })).json).toEqual({ enable_thinking_default: true });
    expect(await promptTokens()).toBe(withThinking);
    expect((await put({ enable_thinking_default: null })).json).toEqual({ enable_thinking_default: null });
    expect(await promptTokens()).toBe(templateDefault);
    expect((await put({})).json).toEqual({ enable_thinking_default: null }); // nothing to change
  });

  test("a bad value or an unknown field is a 400 naming it; nothing changes", async () => {
    const bad = await put({ enable_thinking_default: "yes" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe("enable_thinking_default");
    const unknown = await put({ enable_thinking_default: true, thinking: true });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.param).toBe("thinking");
    expect((await jsonCall(server.url, "GET", "/admin/settings", undefined, admin)).json).toEqual({
      enable_thinking_default: null,
    });
  });

  test("admin-only", async () => {
    expect((await jsonCall(server.url, "GET", "/admin/settings")).status).toBe(401);
    expect((await jsonCall(server.url, "PUT", "/admin/settings", { enable_thinking_default: true })).status).toBe(401);
  });
});
