/**
 * The prefix cache (issue 5, items 1, 2, 3 and 5), through the engine Worker: greedy output with a cache hit is
 * token-for-token what a fresh prefill gives — compared against a second Worker with the cache off, on the same model —
 * across multi-turn chats, edits, regenerations, branches, tool turns and concurrent sessions; shared prefixes
 * without a session; template scope; caller scopes (no reuse, hence no `cached_tokens`, across callers); byte, entry
 * and TTL bounds; listing and clearing; no leaked arrays.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EngineClient } from "../../src/engine/client.ts";
import { blockHashes, commonPrefixLength, scopeOf } from "../../src/engine/prefix-cache.ts";
import type { GenerateParams, Usage } from "../../src/engine/worker-messages.ts";
import { arraysInUse, engineLimits, generateParams } from "../helpers/engine.ts";
import { makeModel, WEATHER, WEATHER_SCRIPTS } from "../helpers/paths.ts";

type Message = Record<string, unknown>;
interface Answer {
  text: string;
  /** The generated tokens, as the logprobs name them. */
  tokens: string[];
  usage: Usage;
  toolCalls: unknown[];
}

async function ask(engine: EngineClient, over: Partial<GenerateParams>): Promise<Answer> {
  const answer: Answer = {
    text: "",
    tokens: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 },
    toolCalls: [],
  };
  for await (const e of engine.generate(generateParams({ logprobs: true, max_tokens: 24, ...over }))) {
    if (e.type === "error") throw new Error(e.message);
    if (e.type === "delta") {
      answer.text += e.delta.content ?? "";
      answer.toolCalls.push(...(e.delta.tool_calls ?? []));
      answer.tokens.push(...(e.logprobs ?? []).map((l) => l.token));
    }
    if (e.type === "done") answer.usage = e.usage;
  }
  return answer;
}

const SYSTEM = {
  role: "system",
  content: "You are a careful assistant who answers questions about the sea. ".repeat(8),
};
const user = (content: string) => ({ role: "user", content });

let cached: EngineClient;
let fresh: EngineClient;

/** Asks both engines; the cached one with the session. Expects identical tokens and returns the cached answer. */
async function both(messages: Message[], over: Partial<GenerateParams> = {}): Promise<Answer> {
  const hit = await ask(cached, { messages, ...over });
  const cold = await ask(fresh, { messages, ...over, session_id: undefined });
  expect(hit.tokens).toEqual(cold.tokens);
  expect(hit.usage.prompt_tokens).toBe(cold.usage.prompt_tokens);
  expect(cold.usage.cached_tokens).toBe(0);
  return hit;
}

const path = makeModel("qwen3", { seed: 3, size: "small" });

beforeAll(async () => {
  cached = await EngineClient.start({ id: "m", path }, engineLimits({ prefixCache: { blockSize: 16 } }));
  fresh = await EngineClient.start({ id: "m", path }, engineLimits({ prefixCache: { enabled: false } }));
});
afterAll(async () => {
  await cached.close();
  await fresh.close();
});

describe("session reuse: same tokens as a fresh prefill", () => {
  test("a five-turn chat reuses the whole previous turn each time", async () => {
    const messages: Message[] = [SYSTEM];
    let previous: Answer | undefined;
    for (let turn = 0; turn < 5; turn++) {
      messages.push(user(`Question ${turn}: what lives in the deep sea?`));
      const answer = await both(messages, { session_id: "chat" });
      if (previous) expect(answer.usage.cached_tokens).toBeGreaterThanOrEqual(previous.usage.prompt_tokens);
      else expect(answer.usage.cached_tokens).toBe(0);
      expect(answer.usage.cached_tokens).toBeLessThan(answer.usage.prompt_tokens);
      messages.push({ role: "assistant", content: answer.text });
      previous = answer;
    }
  });

  test("an edit of an earlier message rewinds to where the history diverges", async () => {
    const history: Message[] = [SYSTEM, user("What is a reef?")];
    const first = await both(history, { session_id: "edit" });
    history.push({ role: "assistant", content: first.text }, user("And a lagoon?"));
    const second = await both(history, { session_id: "edit" });
    expect(second.usage.cached_tokens).toBeGreaterThanOrEqual(first.usage.prompt_tokens);
    const edited = [SYSTEM, user("What is an atoll?"), ...history.slice(2)];
    const third = await both(edited, { session_id: "edit" });
    // Everything up to the edited message is reused, nothing after it.
    expect(third.usage.cached_tokens).toBeGreaterThan(0);
    expect(third.usage.cached_tokens).toBeLessThan(first.usage.prompt_tokens);
  });

  test("regenerating (the same prompt again) reuses all but the last prompt token; branches alternate", async () => {
    const base: Message[] = [SYSTEM, user("Name a fish.")];
    const a = await both(base, { session_id: "regen" });
    const again = await both(base, { session_id: "regen" });
    expect(again.tokens).toEqual(a.tokens);
    expect(again.usage.cached_tokens).toBe(again.usage.prompt_tokens - 1);
    const left = [...base, { role: "assistant", content: a.text }, user("Bigger?")];
    const right = [...base, { role: "assistant", content: a.text }, user("Smaller, and why?")];
    for (const branch of [left, right, left, right]) {
      const answer = await both(branch, { session_id: "regen" });
      expect(answer.usage.cached_tokens).toBeGreaterThanOrEqual(a.usage.prompt_tokens);
    }
  });

  test("concurrent sessions interleaved step by step each get their own tokens", async () => {
    const sessions = ["north", "south", "east"].map((name) => ({ name, messages: [SYSTEM] as Message[] }));
    for (let turn = 0; turn < 3; turn++) {
      for (const s of sessions) s.messages.push(user(`${s.name} sea, turn ${turn}: tell me more.`));
      const answers = await Promise.all(sessions.map((s) => ask(cached, { messages: s.messages, session_id: s.name })));
      for (const [i, s] of sessions.entries()) {
        const cold = await ask(fresh, { messages: s.messages });
        expect(answers[i]!.tokens).toEqual(cold.tokens);
        if (turn > 0) expect(answers[i]!.usage.cached_tokens).toBeGreaterThan(SYSTEM.content.length / 8);
        s.messages.push({ role: "assistant", content: answers[i]!.text });
      }
    }
  });
});

describe("tool turns", () => {
  let tooled: EngineClient;
  let tooledFresh: EngineClient;
  const weather = makeModel("qwen3", { scripts: WEATHER_SCRIPTS });
  beforeAll(async () => {
    tooled = await EngineClient.start({ id: "w", path: weather }, engineLimits());
    tooledFresh = await EngineClient.start(
      { id: "w", path: weather },
      engineLimits({ prefixCache: { enabled: false } }),
    );
  });
  afterAll(async () => {
    await tooled.close();
    await tooledFresh.close();
  });

  test("a tool call, then its result: the second turn reuses the first and answers the same", async () => {
    const messages: Message[] = [user("What is the weather in Paris?")];
    const over = { tools: WEATHER.tools, session_id: "tools", max_tokens: 64 };
    const call = await ask(tooled, { messages, ...over });
    expect(call.tokens).toEqual((await ask(tooledFresh, { messages, ...over, session_id: undefined })).tokens);
    expect(call.toolCalls).toHaveLength(1);
    const id = (call.toolCalls[0] as { id: string }).id;
    messages.push(
      {
        role: "assistant",
        content: "",
        tool_calls: call.toolCalls.map((c) => ({ ...(c as object), index: undefined })),
      },
      { role: "tool", tool_call_id: id, content: "sunny, 24°C" },
    );
    const answer = await ask(tooled, { messages, ...over, enable_thinking: false });
    const cold = await ask(tooledFresh, { messages, ...over, enable_thinking: false, session_id: undefined });
    expect(answer.tokens).toEqual(cold.tokens);
    expect(answer.text).toBe(WEATHER.answer);
    expect(answer.usage.cached_tokens).toBeGreaterThan(call.usage.prompt_tokens / 2);
  });
});

describe("shared prefixes and scope", () => {
  test("requests without a session share the system prompt's blocks", async () => {
    const system = {
      role: "system",
      content: "You answer in one short sentence about oceans and their depths. ".repeat(6),
    };
    const one = await both([system, user("Why is the sea salty?")]);
    const two = await both([system, user("How deep is the Mariana Trench?")]);
    expect(one.usage.cached_tokens).toBe(0);
    expect(two.usage.cached_tokens).toBeGreaterThanOrEqual(16);
    expect(two.usage.cached_tokens).toBeLessThan(two.usage.prompt_tokens);
  });

  test("the same request without a session, sent again and again, keeps one cache, not one per request", async () => {
    const messages = [SYSTEM, user("What is the tide?")];
    const before = (await cached.stats()).prefixCache.entries;
    for (let i = 0; i < 3; i++) await both(messages);
    expect((await cached.stats()).prefixCache.entries).toBe(before + 1);
  });

  test("another session's conversation is copied from, not taken: both keep hitting", async () => {
    const a: Message[] = [SYSTEM, user("Tell me about whales.")];
    const b: Message[] = [SYSTEM, user("Tell me about whales.")];
    const first = await both(a, { session_id: "whale-a" });
    const copied = await both(b, { session_id: "whale-b" });
    expect(copied.usage.cached_tokens).toBe(copied.usage.prompt_tokens - 1);
    a.push({ role: "assistant", content: first.text }, user("And dolphins?"));
    const stillMine = await both(a, { session_id: "whale-a" });
    expect(stillMine.usage.cached_tokens).toBeGreaterThanOrEqual(first.usage.prompt_tokens);
  });

  test("changing a template option is a new scope: the session's entry is not its own any more", async () => {
    const messages: Message[] = [SYSTEM, user("Is it going to rain at sea?")];
    await both(messages, { session_id: "scope" });
    const before = (await cached.stats()).prefixCache.hits.session;
    await both(messages, { session_id: "scope", enable_thinking: false });
    expect((await cached.stats()).prefixCache.hits.session).toBe(before);
    expect(scopeOf({ enable_thinking: false })).not.toBe(scopeOf({}));
    expect(scopeOf({ tools: WEATHER.tools })).not.toBe(scopeOf({}));
  });

  test("sessions are listed with their tokens and bytes, and cleared one by one or all at once", async () => {
    const listed = await cached.sessions();
    const chat = listed.find((entry) => entry.session_id === "chat");
    expect(chat?.scope).toBe(scopeOf({}));
    expect(chat!.tokens).toBeGreaterThan(100);
    expect(chat!.bytes).toBeGreaterThan(0);
    expect(chat!.last_use).toBeGreaterThan(Date.now() - 600_000);
    expect(listed.some((entry) => entry.session_id === null)).toBe(true);
    const baseline = await arraysInUse(cached);
    expect(await cached.clearSessions("chat")).toBe(1);
    expect(await cached.clearSessions("chat")).toBe(0);
    expect((await cached.sessions()).some((entry) => entry.session_id === "chat")).toBe(false);
    expect(await cached.clearSessions()).toBe(listed.length - 1);
    const stats = await cached.stats();
    expect(stats.prefixCache).toMatchObject({ entries: 0, bytes: 0, arrays: 0 });
    expect(stats.liveArrays).toBe(baseline);
  });
});

describe("caller scopes", () => {
  // Same prompt, same session id, three callers: each reuses only what its own requests stored.
  const messages: Message[] = [SYSTEM, user("My PIN is 4821. What is the tide?")];

  test("another caller's identical prompt and session reuse nothing; the same caller's do", async () => {
    await both(messages, { session_id: "pin" });
    expect((await both(messages)).usage.cached_tokens).toBeGreaterThan(0);
    // The open scope (no cache_scope) holds the prompt as a session and as a shared prefix: invisible to keys.
    const a1 = await both(messages, { session_id: "pin", cache_scope: "key:aaaa" });
    expect(a1.usage.cached_tokens).toBe(0);
    const b1 = await both(messages, { session_id: "pin", cache_scope: "key:bbbb" });
    expect(b1.usage.cached_tokens).toBe(0);
    const c = await both(messages, { cache_scope: "key:cccc" });
    expect(c.usage.cached_tokens).toBe(0);
    const a2 = await both(messages, { session_id: "pin", cache_scope: "key:aaaa" });
    expect(a2.usage.cached_tokens).toBe(a2.usage.prompt_tokens - 1);
    const b2 = await both(messages, { session_id: "pin", cache_scope: "key:bbbb" });
    expect(b2.usage.cached_tokens).toBe(b2.usage.prompt_tokens - 1);
    // Without a session, a caller's shared prefix is its own entries only.
    const aShared = await both([SYSTEM, user("Another question entirely.")], { cache_scope: "key:aaaa" });
    expect(aShared.usage.cached_tokens).toBeGreaterThanOrEqual(16);
    const dShared = await both([SYSTEM, user("Another question entirely.")], { cache_scope: "key:dddd" });
    expect(dShared.usage.cached_tokens).toBe(0);
  });

  test("the listing names each entry's caller scope; clearing a session id clears it in every scope", async () => {
    const pins = (await cached.sessions()).filter((entry) => entry.session_id === "pin");
    expect(pins.map((entry) => entry.cache_scope).sort()).toEqual(["key:aaaa", "key:bbbb", "open"]);
    expect(await cached.clearSessions("pin")).toBe(3);
    expect((await cached.sessions()).some((entry) => entry.session_id === "pin")).toBe(false);
  });

  test("block hashes are seeded with the caller scope", () => {
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(blockHashes(tokens, 4, "key:aaaa")).not.toEqual(blockHashes(tokens, 4, "key:bbbb"));
    expect(blockHashes(tokens, 4, "open")).toEqual(blockHashes(tokens, 4));
  });
});

describe("bounded memory", () => {
  test("the byte budget and the entry limit evict the least recently used; nothing leaks", async () => {
    const probe = await EngineClient.start({ id: "m", path }, engineLimits({ prefixCache: { maxEntries: 2 } }));
    const baseline = await arraysInUse(probe);
    for (const s of ["a", "b", "c"]) await ask(probe, { messages: [user(`Session ${s}`)], session_id: s });
    expect((await probe.sessions()).map((entry) => entry.session_id)).toEqual(["c", "b"]);
    const one = (await probe.sessions())[0]!.bytes;
    await probe.close();

    const tight = await EngineClient.start({ id: "m", path }, engineLimits({ prefixCache: { maxBytes: one } }));
    for (const s of ["a", "b", "c"]) await ask(tight, { messages: [user(`Session ${s}`)], session_id: s });
    const kept = await tight.sessions();
    expect(kept.map((entry) => entry.session_id)).toEqual(["c"]);
    const stats = await tight.stats();
    expect(stats.prefixCache.bytes).toBeLessThanOrEqual(one);
    expect(stats.liveArrays - stats.prefixCache.arrays).toBe(baseline);
    await tight.close();
  });

  test("entries expire after ttl_s", async () => {
    const brief = await EngineClient.start({ id: "m", path }, engineLimits({ prefixCache: { ttlS: 0.3 } }));
    await ask(brief, { messages: [user("Quick question")], session_id: "brief" });
    expect(await brief.sessions()).toHaveLength(1);
    await Bun.sleep(800);
    expect(await brief.sessions()).toHaveLength(0);
    expect((await brief.stats()).prefixCache.arrays).toBe(0);
    await brief.close();
  });

  test("a request cancelled mid-answer still leaves a usable, correct cache", async () => {
    const messages: Message[] = [SYSTEM, user("Write a long poem about the tides.")];
    const ac = new AbortController();
    let n = 0;
    for await (const e of cached.generate(
      generateParams({ messages, session_id: "cut", max_tokens: 200 }),
      ac.signal,
    )) {
      if (e.type === "delta" && ++n === 3) ac.abort();
    }
    const again = await both(messages, { session_id: "cut" });
    expect(again.usage.cached_tokens).toBe(again.usage.prompt_tokens - 1);
  });
});

describe("token prefix helpers", () => {
  test("commonPrefixLength", () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(commonPrefixLength([1, 2], [1, 2, 3])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
    expect(commonPrefixLength([5], [6])).toBe(0);
  });

  test("block hashes are chained: equal blocks after different prefixes hash differently", () => {
    const a = blockHashes([1, 2, 3, 4, 9, 9, 9, 9, 7], 4);
    const b = blockHashes([5, 6, 7, 8, 9, 9, 9, 9], 4);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(a[1]).not.toBe(b[1]);
    expect(blockHashes([1, 2, 3, 4, 9, 9, 9, 9], 4)).toEqual(a);
    expect(blockHashes([1, 2, 3], 4)).toEqual([]);
  });
});
