/**
 * The client side of `bench/prefix-cache.ts`: a multi-turn conversation of a requested size, one streamed turn timed
 * as a client sees it (official `openai` SDK, `POST /v1/chat/completions`), and the admin call that empties the
 * prefix cache.
 */
import OpenAI from "openai";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { buildPrompt } from "../tps/inputs.ts";

/** A chat message (assignable to the SDK's message type). */
export interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One streamed turn, measured. */
export interface TurnResult {
  /** Request sent → first SSE chunk carrying `content` or `reasoning_content`, ms. */
  ttft_ms: number;
  /** Request sent → end of the stream, ms. */
  total_ms: number;
  /** `usage.prompt_tokens`. */
  prompt_tokens: number;
  /** `usage.prompt_tokens_details.cached_tokens`: prompt tokens served from the prefix cache. */
  cached_tokens: number;
  completion_tokens: number;
  content: string;
  reasoning: string;
  /** The generated tokens as `logprobs.content[].token` lists them (greedy, so reruns should agree). */
  tokens: string[];
}

/** A conversation about to get turn N: turn N-1's messages (ending with a user message) and turn N's user message. */
export interface Conversation {
  /** System message, completed exchanges, then turn N-1's user message. */
  previous: Message[];
  /** Turn N's user message. */
  next: string;
}

/** Tokens of corpus text per user message and per earlier answer (a chat: short questions, longer answers). */
const USER_TOKENS = 40;
const ANSWER_TOKENS = 120;

/** Turn N's messages: turn N-1's, its `answer`, turn N's user message. */
export function turnMessages(c: Conversation, answer: string): Message[] {
  return [...c.previous, { role: "assistant", content: answer }, { role: "user", content: c.next }];
}

/**
 * The conversation (system message, then exchanges of {@link USER_TOKENS}-token questions and {@link ANSWER_TOKENS}-
 * token answers: windows of the make-model corpus in the model's own tokenization, decoded) whose turn N-1 prompt, by
 * `count`, is nearest to `targetTokens`. Turn N-1's answer is generated later.
 */
export async function buildConversation(
  modelDir: string,
  count: (messages: Message[]) => Promise<number>,
  targetTokens: number,
): Promise<Conversation> {
  const exchange = USER_TOKENS + ANSWER_TOKENS;
  // Every message holds at least its window's tokens, so this many exchanges always reach the target.
  const ids = buildPrompt(modelDir, (Math.ceil(targetTokens / exchange) + 2) * exchange);
  const tokenizer = new ModelTokenizer(modelDir);
  const text = (start: number, n: number) => tokenizer.decode(ids.slice(start, start + n));
  const user = (turn: number) => `Turn ${turn}. What comes after this?\n${text((turn - 1) * exchange, USER_TOKENS)}`;
  const answer = (turn: number) => text((turn - 1) * exchange + USER_TOKENS, ANSWER_TOKENS);
  const system: Message = {
    role: "system",
    content: "You are a patient assistant. Continue the texts the user reads to you.",
  };
  const previous: Message[] = [system, { role: "user", content: user(1) }];
  let below: { c: Conversation; tokens: number } | undefined;
  for (let turn = 1; ; turn++) {
    const c = { previous: [...previous], next: user(turn + 1) };
    const tokens = await count(c.previous);
    if (tokens >= targetTokens) return below && targetTokens - below.tokens < tokens - targetTokens ? below.c : c;
    below = { c, tokens };
    previous.push({ role: "assistant", content: answer(turn) }, { role: "user", content: user(turn + 1) });
  }
}

/** Exact prompt size of `messages` by the server's local engine (`POST /v1/messages/count_tokens`). @throws Error. */
export async function countTokens(url: string, model: string, messages: Message[]): Promise<number> {
  const system = messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n");
  const rest = messages.filter((m) => m.role !== "system");
  const r = await fetch(`${url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, system, messages: rest }),
  });
  if (!r.ok) throw new Error(`count_tokens: ${r.status} ${await r.text()}`);
  if (r.headers.get("x-ithaca-token-count") === "estimate")
    throw new Error("count_tokens answered an estimate, not the model's count");
  return ((await r.json()) as { input_tokens: number }).input_tokens;
}

/**
 * Empties the prefix cache of every model (`POST /admin/sessions/clear` with an empty body).
 * @returns how many entries were cleared.
 * @throws Error when the server has no such endpoint or refuses.
 */
export async function clearPrefixCache(url: string): Promise<number> {
  const r = await fetch(`${url}/admin/sessions/clear`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  if (!r.ok) throw new Error(`POST /admin/sessions/clear: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { cleared: number }).cleared;
}

/**
 * An SDK client for the server at `url`: open mode, no retries (a failure must show), and an hour per request instead
 * of the SDK's 10 minutes (a CPU prefill of a long history can take that long). Bun's own fetch timeout (300 s
 * without a byte) is turned off with Bun's `timeout: false` request option.
 */
export function client(url: string): OpenAI {
  return new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: "unused",
    maxRetries: 0,
    timeout: 3_600_000,
    fetchOptions: { timeout: false },
  });
}

/**
 * Sends one streamed, greedy chat turn in session `sessionId` (`X-Session-Id`) and times it.
 * @throws Error when the request or the stream fails (with the seconds it had run), or the answer carries neither
 *   content nor reasoning (no first token to time) or no usage.
 */
export async function timedTurn(
  api: OpenAI,
  model: string,
  messages: Message[],
  sessionId: string,
  maxTokens: number,
): Promise<TurnResult> {
  const t0 = performance.now();
  let ttft: number | undefined;
  let content = "";
  let reasoning = "";
  const tokens: string[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  try {
    const stream = await api.chat.completions.create(
      {
        model,
        messages,
        max_tokens: maxTokens,
        temperature: 0,
        logprobs: true,
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { "x-session-id": sessionId } },
    );
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const delta = choice?.delta as { content?: string | null; reasoning_content?: string | null } | undefined;
      if (ttft === undefined && (delta?.content || delta?.reasoning_content)) ttft = performance.now() - t0;
      content += delta?.content ?? "";
      reasoning += delta?.reasoning_content ?? "";
      tokens.push(...(choice?.logprobs?.content ?? []).map((t) => t.token));
      usage = chunk.usage ?? usage;
    }
  } catch (err) {
    throw new Error(
      `session ${sessionId}: the turn failed after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(err as Error).message}`,
    );
  }
  const total = performance.now() - t0;
  if (ttft === undefined)
    throw new Error(
      `session ${sessionId}: the answer carried no content or reasoning (tokens ${JSON.stringify(tokens)})`,
    );
  if (!usage) throw new Error(`session ${sessionId}: the stream had no usage chunk`);
  return {
    ttft_ms: ttft,
    total_ms: total,
    prompt_tokens: usage.prompt_tokens,
    cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    completion_tokens: usage.completion_tokens,
    content,
    reasoning,
    tokens,
  };
}
