/**
 * The client side of `bench/concurrency.ts`: streamed OpenAI chat completions (`stream: true`,
 * `stream_options.include_usage`) against any OpenAI-compatible server, timed as the client sees them, and the
 * prompts both servers get.
 */
import { CORPUS } from "../../scripts/make-model/corpus.ts";

/** One streamed request as the client saw it; times in ms on this process's `performance.now()` clock. */
export interface StreamResult {
  sentMs: number;
  /** First chunk carrying generated text (`content` or reasoning). */
  firstMs: number;
  /** Last chunk carrying generated text. */
  lastMs: number;
  /** `usage.completion_tokens`: tokens the server generated. */
  completionTokens: number;
  promptTokens: number;
  /** The generated text, reasoning included (to compare the servers' greedy outputs). */
  text: string;
}

/** Time to first token (ms). */
export const ttftMs = (r: StreamResult) => r.firstMs - r.sentMs;

/** The request's own decode rate: (completion tokens − 1) / (last − first token), tokens/s; 0 for one token. */
export const decodeTps = (r: StreamResult) =>
  r.completionTokens > 1 && r.lastMs > r.firstMs ? ((r.completionTokens - 1) * 1000) / (r.lastMs - r.firstMs) : 0;

/**
 * Throughput of requests run together, prefill included: every generated token over the wall time from the first
 * request sent to the last token received (tokens/s).
 */
export function aggregateTps(rs: readonly StreamResult[]): number {
  const start = Math.min(...rs.map((r) => r.sentMs));
  const end = Math.max(...rs.map((r) => r.lastMs));
  return (rs.reduce((n, r) => n + r.completionTokens, 0) * 1000) / (end - start);
}

/**
 * Aggregate decode throughput of requests run together: every token after each request's first, over the wall time
 * from the first token of any request to the last token of all (tokens/s); a burst's prompts are prefilled before.
 */
export function aggregateDecodeTps(rs: readonly StreamResult[]): number {
  const start = Math.min(...rs.map((r) => r.firstMs));
  const end = Math.max(...rs.map((r) => r.lastMs));
  return (rs.reduce((n, r) => n + r.completionTokens - 1, 0) * 1000) / (end - start);
}

const WORDS = CORPUS.split(/\s+/).filter(Boolean);

/** A prompt of `words` words of the make-model corpus starting at word `index × 37` (distinct per index). */
export function promptText(index: number, words: number): string {
  const start = (index * 37) % WORDS.length;
  return Array.from({ length: words }, (_, i) => WORDS[(start + i) % WORDS.length]).join(" ");
}

interface Chunk {
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null } }[];
  usage?: { completion_tokens: number; prompt_tokens: number };
}

/**
 * Sends one greedy streamed chat completion and reads it to the end.
 * @param base the OpenAI base URL (`…/v1`)
 * @throws Error on a non-2xx answer or a stream without usage
 */
export async function streamChat(
  base: string,
  model: string,
  prompt: string,
  maxTokens: number,
): Promise<StreamResult> {
  const sentMs = performance.now();
  const res = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: prompt }],
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`${base}: HTTP ${res.status} ${await res.text()}`);
  let firstMs = 0;
  let lastMs = 0;
  let text = "";
  let usage: Chunk["usage"];
  let pending = "";
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    pending += decoder.decode(bytes, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const chunk = JSON.parse(line.slice(6)) as Chunk;
      if (chunk.usage) usage = chunk.usage;
      const d = chunk.choices?.[0]?.delta;
      const piece = (d?.content ?? "") + (d?.reasoning_content ?? d?.reasoning ?? "");
      if (!piece) continue;
      lastMs = performance.now();
      if (!firstMs) firstMs = lastMs;
      text += piece;
    }
  }
  if (!usage) throw new Error(`${base}: the stream ended without usage`);
  if (!firstMs) firstMs = lastMs = performance.now();
  return {
    sentMs,
    firstMs,
    lastMs,
    completionTokens: usage.completion_tokens,
    promptTokens: usage.prompt_tokens,
    text,
  };
}
