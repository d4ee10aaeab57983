/** The SSE helpers the local backend streams with: framing, [DONE], in-band errors, abort and cancel. */
import { describe, expect, test } from "bun:test";
import { OpenAIError } from "../../src/protocol/errors.ts";
import { parseSSE, sseResponse } from "../../src/protocol/sse.ts";

async function frames(response: Response): Promise<string[]> {
  const data: string[] = [];
  if (!response.body) return data;
  for await (const event of parseSSE(response.body)) data.push(event.data);
  return data;
}

describe("sseResponse", () => {
  test("one data frame per chunk, then [DONE]", async () => {
    async function* chunks() {
      yield { n: 1 };
      yield { n: 2 };
    }
    const response = sseResponse(chunks());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(await response.text()).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
  });

  test("an error mid-stream is sent in-band as an object, then as a string, then [DONE] (§9 #27)", async () => {
    async function* chunks() {
      yield { n: 1 };
      throw new OpenAIError(500, "engine died", { code: "generation_failed" });
    }
    expect(await frames(sseResponse(chunks()))).toEqual([
      '{"n":1}',
      '{"error":{"message":"engine died","type":"server_error","param":null,"code":"generation_failed"}}',
      '{"error":"engine died"}',
      "[DONE]",
    ]);
  });

  test("an in-band error item from an upstream ends the stream the same way, and stops the source", async () => {
    let stopped = false;
    async function* chunks() {
      try {
        yield { n: 1 };
        yield { error: { message: "streaming aborted: GPU hang", type: "generation_failed" } };
        yield { n: 2 };
      } finally {
        stopped = true;
      }
    }
    expect(await frames(sseResponse(chunks()))).toEqual([
      '{"n":1}',
      '{"error":{"message":"streaming aborted: GPU hang","type":"generation_failed"}}',
      '{"error":"streaming aborted: GPU hang"}',
      "[DONE]",
    ]);
    expect(stopped).toBe(true);
  });

  test("cancelling the response (client gone) runs the generator's finally", async () => {
    let cleaned = false;
    async function* chunks() {
      try {
        for (let n = 0; ; n++) yield { n };
      } finally {
        cleaned = true;
      }
    }
    const reader = sseResponse(chunks()).body?.getReader();
    await reader?.read();
    await reader?.cancel();
    await Bun.sleep(0);
    expect(cleaned).toBe(true);
  });

  test("aborting the signal ends the stream and stops the generator", async () => {
    const controller = new AbortController();
    let cleaned = false;
    async function* chunks() {
      try {
        for (let n = 0; ; n++) {
          yield { n };
          await Bun.sleep(5);
        }
      } finally {
        cleaned = true;
      }
    }
    const response = sseResponse(chunks(), controller.signal);
    setTimeout(() => controller.abort(), 30);
    const data = await frames(response);
    expect(data.length).toBeGreaterThan(0);
    expect(data).not.toContain("[DONE]");
    await Bun.sleep(10);
    expect(cleaned).toBe(true);
  });
});
