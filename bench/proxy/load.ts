/**
 * The load generator of `bench/proxy-overhead.ts`, run in the benchmark process itself: `concurrency` loops sharing a
 * fixed number of `POST /v1/chat/completions` requests, each loop sending its next request as soon as the previous
 * answer has been read to its end (closed loop), over Bun's keep-alive `fetch`. Latency is request sent → last byte
 * of the body read. Every answer is checked (status, the fixture's content, usage, `[DONE]` for streams), so a failing
 * target cannot pass for a fast one.
 */

export type Mode = "non-stream" | "stream";

export interface LoadResult {
  requests: number;
  concurrency: number;
  /** Per request, in milliseconds, sorted ascending. */
  latenciesMs: number[];
  wallS: number;
}

/** The fixture's answer text: present, in one piece or in chunks, in every valid answer. */
const PIECES = ["Hello", "!", " How", " can", " I", " help", " you", " today?"];

export function requestBody(model: string, mode: Mode): string {
  return JSON.stringify({
    model,
    messages: [{ role: "user", content: "Say hello." }],
    max_tokens: 16,
    stream: mode === "stream",
    ...(mode === "stream" ? { stream_options: { include_usage: true } } : {}),
  });
}

/** Why `text` is not a valid answer, or null. Cheap string checks: the load generator's CPU is shared. */
function invalid(status: number, text: string, mode: Mode): string | null {
  if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
  if (!text.includes('"usage"')) return `no usage: ${text.slice(0, 300)}`;
  if (mode === "non-stream") return text.includes(PIECES.join("")) ? null : `unexpected answer: ${text.slice(0, 300)}`;
  if (!text.trimEnd().endsWith("data: [DONE]")) return `stream does not end with [DONE]: ${text.slice(-300)}`;
  return PIECES.every((p) => text.includes(JSON.stringify(p)))
    ? null
    : `stream lacks the content pieces: ${text.slice(0, 300)}`;
}

/**
 * Sends `requests` requests to `${baseUrl}/chat/completions` from `concurrency` loops.
 * @throws Error on the first failed or invalid answer.
 */
export async function runLoad(
  baseUrl: string,
  body: string,
  mode: Mode,
  requests: number,
  concurrency: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const url = `${baseUrl}/chat/completions`;
  const init = { method: "POST", headers: { "content-type": "application/json", ...headers }, body };
  const latencies = new Array<number>(requests);
  let next = 0;
  const loop = async () => {
    while (next < requests) {
      const i = next++;
      const t0 = performance.now();
      const res = await fetch(url, init);
      const text = await res.text();
      latencies[i] = performance.now() - t0;
      const why = invalid(res.status, text, mode);
      if (why) throw new Error(`${url} (${mode}, request ${i + 1}): ${why}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, loop));
  const wallS = (performance.now() - t0) / 1000;
  return { requests, concurrency, latenciesMs: latencies.sort((a, b) => a - b), wallS };
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
