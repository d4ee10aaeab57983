/**
 * The prefix cache over HTTP (issue 5, items 3 and 4) with the real SDKs: OpenAI `usage.prompt_tokens_details
 * .cached_tokens` (chat, stream and not, and Responses `input_tokens_details`), Anthropic `cache_read_input_tokens`
 * (`input_tokens` then excludes the reused tokens, as Anthropic counts them), the session id from the body, the
 * `X-Session-Id` header or Anthropic `metadata.user_id`; `GET /admin/sessions` and `POST /admin/sessions/clear` behind
 * the admin token; no cache survives a model unload; with API keys, one key's requests never reuse — nor report as
 * `cached_tokens` — what another key's requests cached.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { makeModel } from "../../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../../helpers/start.ts";

const ADMIN = "admin-secret";
const SYSTEM = "You are a concise assistant for sailors. Answer in one sentence. ".repeat(6);

let ithaca: RunningIthaca;
let openai: OpenAI;
let anthropic: Anthropic;

interface SessionRow {
  id: string | null;
  kind: string;
  model: string;
  cache_scope: string;
  scope: string;
  tokens: number;
  bytes: number;
  last_use: number;
}

const admin = (path: string, init: RequestInit = {}, token: string | null = ADMIN) =>
  fetch(`${ithaca.url}${path}`, {
    ...init,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });

interface SessionsList {
  object: "list";
  data: SessionRow[];
  models: { model: string; entries: number; bytes: number; max_bytes: number; max_entries: number }[];
}

async function sessions(query = ""): Promise<SessionsList> {
  const response = await admin(`/admin/sessions${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as SessionsList;
}

const clear = (body?: object) =>
  admin("/admin/sessions/clear", { method: "POST", body: body ? JSON.stringify(body) : undefined });

beforeAll(async () => {
  ithaca = await startIthaca(
    {
      models: [{ id: "sea", path: makeModel("qwen3", { seed: 5, size: "small" }) }],
      engine: { prefix_cache: { max_bytes: "1GiB" } },
    },
    { env: { ITHACA_ADMIN_TOKEN: ADMIN } },
  );
  openai = new OpenAI({ baseURL: ithaca.baseURL, apiKey: "unused", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: ithaca.url, apiKey: "unused", maxRetries: 0 });
}, 60_000);
afterAll(() => ithaca?.close());

/** Two chat turns of one session; returns both completions. */
async function twoTurns(session: { body?: string; header?: string }, stream = false) {
  const options = session.header ? { headers: { "x-session-id": session.header } } : undefined;
  const extra = session.body ? { session_id: session.body } : {};
  const ask = async (messages: OpenAI.ChatCompletionMessageParam[]) => {
    if (!stream)
      return openai.chat.completions.create(
        { model: "sea", messages, max_tokens: 12, temperature: 0, ...extra },
        options,
      );
    const chunks = await openai.chat.completions.create(
      {
        model: "sea",
        messages,
        max_tokens: 12,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
        ...extra,
      },
      options,
    );
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of chunks) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    return { choices: [{ message: { content: text } }], usage };
  };
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: "Which way is north?" },
  ];
  const first = await ask(messages);
  messages.push(
    { role: "assistant", content: first.choices[0]!.message.content ?? "" },
    { role: "user", content: "And south?" },
  );
  return [first, await ask(messages)] as const;
}

describe("OpenAI dialect", () => {
  test("turn 2 reports the reused tokens in prompt_tokens_details.cached_tokens; prompt_tokens counts everything", async () => {
    const cleared = await clear();
    expect(await cleared.text()).toMatch(/^\{"cleared":\d+\}$/);
    const [first, second] = await twoTurns({ body: "oa-body" });
    expect(first.usage!.prompt_tokens_details?.cached_tokens).toBe(0);
    const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBeGreaterThanOrEqual(first.usage!.prompt_tokens);
    expect(second.usage!.prompt_tokens).toBeGreaterThan(cached);
  });

  test("streamed, with the session in X-Session-Id: the usage chunk carries cached_tokens", async () => {
    const [first, second] = await twoTurns({ header: "oa-header" }, true);
    expect(second.usage!.prompt_tokens_details!.cached_tokens!).toBeGreaterThanOrEqual(first.usage!.prompt_tokens);
    const listed = (await sessions()).data.map((row) => row.id);
    expect(listed).toContain("oa-header");
    expect(listed).toContain("oa-body");
  });

  test("Responses: usage.input_tokens_details.cached_tokens", async () => {
    const input = [
      { role: "system" as const, content: SYSTEM },
      { role: "user" as const, content: "Name a knot." },
    ];
    const headers = { "x-session-id": "responses" };
    const first = await openai.responses.create(
      { model: "sea", input, max_output_tokens: 12, temperature: 0 },
      { headers },
    );
    const second = await openai.responses.create(
      {
        model: "sea",
        input: [
          ...input,
          { role: "assistant" as const, content: first.output_text },
          { role: "user" as const, content: "Another?" },
        ],
        max_output_tokens: 12,
        temperature: 0,
      },
      { headers },
    );
    expect(second.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(first.usage!.input_tokens);
  });
});

describe("Anthropic dialect", () => {
  test("metadata.user_id scopes the session; cache_read_input_tokens + input_tokens = the counted prompt", async () => {
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Which star guides sailors?" }];
    const request = { model: "sea", system: SYSTEM, max_tokens: 12, metadata: { user_id: "claude-session-1" } };
    const first = await anthropic.messages.create({ ...request, messages });
    // The system prompt may already be cached from the OpenAI tests (a shared prefix): reads count as prompt.
    const firstPrompt = first.usage.input_tokens + (first.usage.cache_read_input_tokens ?? 0);
    const text = first.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
    messages.push({ role: "assistant", content: text || "." }, { role: "user", content: "Why?" });
    const counted = await anthropic.messages.countTokens({ model: "sea", system: SYSTEM, messages });
    const second = await anthropic.messages.create({ ...request, messages });
    const read = second.usage.cache_read_input_tokens!;
    expect(read).toBeGreaterThanOrEqual(firstPrompt);
    expect(second.usage.input_tokens + read).toBe(counted.input_tokens);
    expect((await sessions()).data.some((row) => row.id === "claude-session-1" && row.model === "sea")).toBe(true);
  });
});

describe("admin", () => {
  test("GET /admin/sessions lists id, model, tokens, bytes and last use; per-model totals against the limits", async () => {
    const { data, models } = await sessions();
    const row = data.find((entry) => entry.id === "oa-body")!;
    expect(row.kind).toBe("session");
    expect(row.model).toBe("sea");
    expect(row.cache_scope).toBe("open");
    expect(row.tokens).toBeGreaterThan(50);
    expect(row.bytes).toBeGreaterThan(0);
    expect(Math.abs(row.last_use - Date.now() / 1000)).toBeLessThan(600);
    expect(models).toEqual([
      {
        model: "sea",
        entries: data.length,
        bytes: data.reduce((sum, entry) => sum + entry.bytes, 0),
        max_bytes: 2 ** 30,
        max_entries: 64,
      },
    ]);
    expect((await sessions("?model=sea")).data).toHaveLength(data.length);
  });

  test("the admin routes need the admin token; bad bodies are 400s naming the field; unknown models 404", async () => {
    expect((await admin("/admin/sessions", {}, null)).status).toBe(401);
    expect((await admin("/admin/sessions/clear", { method: "POST", body: "{}" }, "wrong")).status).toBe(401);
    const bad = await clear({ session_id: 5 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("session_id");
    const extra = await clear({ sessions: "all" });
    expect(extra.status).toBe(400);
    const unknown = await clear({ model: "nope" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });

  test("clearing one session drops only it; the session's next turn prefills from scratch (shared prefix aside)", async () => {
    const before = (await sessions()).data;
    const response = await clear({ session_id: "oa-body" });
    expect(await response.json()).toEqual({ cleared: 1 });
    const after = (await sessions()).data;
    expect(after.map((row) => row.id)).not.toContain("oa-body");
    expect(after).toHaveLength(before.length - 1);
    expect(await (await clear()).json()).toEqual({ cleared: after.length });
    expect((await sessions()).data).toEqual([]);
    const [first] = await twoTurns({ body: "oa-body" });
    expect(first.usage!.prompt_tokens_details?.cached_tokens).toBe(0);
  });

  test("no cache survives a model unload", async () => {
    await twoTurns({ body: "before-unload" });
    expect((await sessions()).data.length).toBeGreaterThan(0);
    const unloaded = await admin("/admin/models/unload", { method: "POST", body: JSON.stringify({ model: "sea" }) });
    expect(unloaded.status).toBe(200);
    expect(await sessions()).toEqual({ object: "list", data: [], models: [] });
    const [first] = await twoTurns({ body: "before-unload" });
    expect(first.usage!.prompt_tokens_details?.cached_tokens).toBe(0);
  });
});

describe("API keys: cached_tokens is no oracle across callers", () => {
  let keyed: RunningIthaca;
  const client = (apiKey: string) => new OpenAI({ baseURL: keyed.baseURL, apiKey, maxRetries: 0 });
  /** A prompt holding a secret, as a victim sends it; an attacker guesses it exactly. */
  const SECRET: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: "My card PIN is 4821. Remind me of it tomorrow." },
  ];
  const cachedTokens = async (apiKey: string, session?: string) => {
    const completion = await client(apiKey).chat.completions.create({
      model: "sea",
      messages: SECRET,
      max_tokens: 4,
      temperature: 0,
      ...(session ? { session_id: session } : {}),
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    return completion.usage!.prompt_tokens_details!.cached_tokens!;
  };

  beforeAll(async () => {
    keyed = await startIthaca(
      {
        models: [{ id: "sea", path: makeModel("qwen3", { seed: 5, size: "small" }) }],
        auth: { api_keys: ["key-alice", "key-bob", "key-carol"] },
        engine: { prefix_cache: { shared: true, block_size: 16 } },
      },
      { env: { ITHACA_ADMIN_TOKEN: ADMIN } },
    );
  }, 60_000);
  afterAll(() => keyed?.close());

  test("another key sending key A's exact prompt (with A's session id, or none) gets cached_tokens 0; A repeating it hits", async () => {
    expect(await cachedTokens("key-alice")).toBe(0);
    expect(await cachedTokens("key-alice", "alice-chat")).toBeGreaterThan(0);
    expect(await cachedTokens("key-bob", "alice-chat")).toBe(0);
    expect(await cachedTokens("key-carol")).toBe(0);
    expect(await cachedTokens("key-alice")).toBeGreaterThan(0);
    expect(await cachedTokens("key-alice", "alice-chat")).toBeGreaterThan(0);
  });

  test("/admin/sessions names each entry's caller scope", async () => {
    const response = await fetch(`${keyed.url}/admin/sessions`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const rows = ((await response.json()) as SessionsList).data.filter((row) => row.id === "alice-chat");
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((row) => row.cache_scope)).size).toBe(2);
    for (const row of rows) expect(row.cache_scope).toMatch(/^key:[0-9a-f]+$/);
  });
});
