/**
 * telemak-companion-wire §9, rows 17–35: requests and answers through Ithaca in front of an emulated Telemak
 * (test/helpers/fake-telemak.ts: inline think, index-less tool calls, prompt tokens without the cached ones,
 * last-message replay on a session hit, no max_tokens cap, object-shaped in-band errors), with the real openai and
 * Anthropic SDKs and raw SSE where the bytes matter. Rows 1–16, 30, 36, 37: telemak-checklist-surface.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { APIError } from "openai";
import { parseSSE } from "../../src/protocol/sse.ts";
import { KEY, startTelemakFleet, type TelemakFleet } from "../helpers/telemak-fleet.ts";

let fleet: TelemakFleet;

beforeAll(async () => {
  fleet = await startTelemakFleet();
});

afterAll(async () => {
  await fleet.close();
});

const user = (content: string) => ({ role: "user" as const, content });
const assistant = (content: string) => ({ role: "assistant" as const, content });

/** The `data:` payloads of a streamed answer, as sent. */
async function frames(response: Response): Promise<string[]> {
  const data: string[] = [];
  for await (const event of parseSSE(response.body!)) {
    expect(event.event).toBeUndefined(); // #20: no `event:` lines
    data.push(event.data);
  }
  return data;
}

/** A streamed answer read with the openai SDK: content, reasoning, tool calls by index, usage, models seen. */
async function streamed(body: Record<string, unknown>) {
  const stream = await fleet.openai.chat.completions.create({ ...body, stream: true } as never);
  let content = "";
  let reasoning = "";
  const calls: Array<{ id?: string; name?: string; args: string }> = [];
  let usage: Record<string, any> | undefined;
  let finish: string | null = null;
  const models = new Set<string>();
  for await (const chunk of stream as unknown as AsyncIterable<any>) {
    models.add(chunk.model);
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    content += choice?.delta.content ?? "";
    reasoning += choice?.delta.reasoning_content ?? "";
    finish = choice?.finish_reason ?? finish;
    for (const fragment of choice?.delta.tool_calls ?? []) {
      calls[fragment.index] ??= { args: "" };
      const call = calls[fragment.index]!;
      call.id ??= fragment.id;
      call.name ??= fragment.function?.name;
      call.args += fragment.function?.arguments ?? "";
    }
  }
  return { content, reasoning, calls, usage, finish, models: [...models] };
}

describe("telemak-companion-wire §9: requests and answers", () => {
  test("#17 session_id (body) and X-Session-Id (header) are forwarded to Telemak in the body", async () => {
    await fleet.openai.chat.completions.create({
      model: "studio",
      messages: [user("hi")],
      session_id: "conv-a",
    } as never);
    expect(String(fleet.studio.last.body.session_id)).toStartWith("conv-a");
    await fleet.post("/v1/chat/completions", { model: "studio", messages: [user("hi")] }, { "x-session-id": "conv-b" });
    expect(String(fleet.studio.last.body.session_id)).toStartWith("conv-b");
  });

  test("#18 enable_thinking and reasoning_effort are forwarded; Step-3.7 gets minimal by default", async () => {
    await fleet.openai.chat.completions.create({
      model: "duo:qwen3-4b-4bit",
      messages: [user("hi")],
      enable_thinking: false,
      reasoning_effort: "xhigh",
    } as never);
    expect(fleet.duo.last.body).toMatchObject({ enable_thinking: false, reasoning_effort: "xhigh" });
    await fleet.openai.chat.completions.create({ model: "duo:step-3.7-flash-4bit", messages: [user("hi")] });
    expect(fleet.duo.last.body.reasoning_effort).toBe("minimal");
    await fleet.openai.chat.completions.create({
      model: "duo:step-3.7-flash-4bit",
      messages: [user("hi")],
      reasoning_effort: "high",
    });
    expect(fleet.duo.last.body.reasoning_effort).toBe("high");
  });

  test("#19 sampling fields go as sent; max_completion_tokens becomes max_tokens; a cap is supplied", async () => {
    const sampling = {
      temperature: 0.3,
      top_p: 0.9,
      top_k: 20,
      min_p: 0.05,
      repetition_penalty: 1.1,
      seed: 7,
      stop: ["END"],
    };
    await fleet.openai.chat.completions.create({ model: "studio", messages: [user("hi")], ...sampling } as never);
    expect(fleet.studio.last.body).toMatchObject({ ...sampling, max_tokens: 4096 });
    await fleet.openai.chat.completions.create({ model: "studio", messages: [user("hi")], max_completion_tokens: 99 });
    expect(fleet.studio.last.body.max_tokens).toBe(99);
    expect("max_completion_tokens" in fleet.studio.last.body).toBe(false);
  });

  test("#20 #21 SSE framing and order: role, content, finish, a usage chunk with choices [], [DONE]", async () => {
    const response = await fleet.post("/v1/chat/completions", {
      model: "studio",
      messages: [user("hi")],
      stream: true,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const data = await frames(response);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((text) => JSON.parse(text));
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const finishAt = chunks.findIndex((chunk) => chunk.choices[0]?.finish_reason === "stop");
    expect(finishAt).toBeGreaterThan(1);
    expect(chunks.slice(1, finishAt).every((chunk) => typeof chunk.choices[0].delta.content === "string")).toBe(true);
    // The usage chunk comes last, without stream_options.include_usage.
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
  });

  test("#22 prompt_tokens count the cached tokens, in both dialects", async () => {
    const first = await fleet.openai.chat.completions.create({
      model: "studio",
      messages: [user("one two three four")],
      session_id: "conv-usage",
    } as never);
    const second = await streamed({
      model: "studio",
      messages: [user("one two three four"), assistant(first.choices[0]!.message.content!), user("five six")],
      session_id: "conv-usage",
    });
    // The Telemak had 4 + 5 words cached and prefilled 2: OpenAI counts all 11 as prompt tokens.
    expect(second.usage).toMatchObject({
      prompt_tokens: 11,
      prompt_tokens_details: { cached_tokens: 9 },
      total_tokens: 14,
    });
    const anthropic = new Anthropic({ baseURL: fleet.server.url, apiKey: KEY, maxRetries: 0 });
    const reply = await anthropic.messages.create({
      model: "studio",
      max_tokens: 64,
      messages: [
        user("one two three four"),
        assistant(first.choices[0]!.message.content!),
        user("five six"),
        assistant(second.content),
        user("seven"),
      ],
      metadata: { user_id: "u" },
      ...({ session_id: "conv-usage" } as object),
    });
    // Anthropic counts input_tokens without the cached ones: 1 new word, 19 read from the cache.
    expect(reply.usage).toMatchObject({ input_tokens: 1, cache_read_input_tokens: 19 });
  });

  test("#23 inline <think> is split into reasoning_content, streamed and not, whatever the pieces", async () => {
    const split = await streamed({ model: "studio", messages: [user("think")] });
    expect(split).toMatchObject({ reasoning: "Two and two.", content: "The answer is 4.", finish: "stop" });
    const whole = await fleet.openai.chat.completions.create({ model: "studio", messages: [user("think")] });
    expect(whole.choices[0]!.message).toMatchObject({ content: "The answer is 4.", reasoning_content: "Two and two." });
    // Qwen3.6's template opens the block in the prompt: no opening tag in the answer, split all the same.
    const preOpened = await streamed({ model: "duo:qwen3.6-27b-4bit", messages: [user("think")] });
    expect(preOpened).toMatchObject({ reasoning: "Two and two.", content: "The answer is 4." });
    // Thinking off on a model that honours the flag: the answer is content, not trapped in reasoning.
    const off = await streamed({ model: "duo:qwen3.6-27b-4bit", messages: [user("think")], enable_thinking: false });
    expect(off).toMatchObject({ reasoning: "", content: "The answer is 4." });
  });

  test("#24 #13 tool calls: index restored in streams, real tool_calls when not streamed", async () => {
    const weather = { type: "function" as const, function: { name: "weather", parameters: { type: "object" } } };
    const answer = await streamed({ model: "studio", messages: [user("tools")], tools: [weather] });
    expect(answer.calls).toEqual([
      { id: "call_a", name: "weather", args: '{"city":"Paris"}' },
      { id: "call_b", name: "time", args: '{"tz":"CET"}' },
    ]);
    expect(answer.finish).toBe("tool_calls");
    const whole = await fleet.openai.chat.completions.create({
      model: "studio",
      messages: [user("tools")],
      tools: [weather],
    });
    expect(whole.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { tool_calls: [{ id: "call_a", type: "function", function: { name: "weather" } }, { id: "call_b" }] },
    });
  });

  test("#25 assistant tool_calls and tool results in the history reach Telemak as sent", async () => {
    const messages = [
      user("weather?"),
      {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: "call_a", type: "function" as const, function: { name: "weather", arguments: "{}" } }],
      },
      { role: "tool" as const, tool_call_id: "call_a", content: "sunny" },
    ];
    const answer = await fleet.openai.chat.completions.create({ model: "studio", messages });
    expect(answer.choices[0]!.finish_reason).toBe("stop");
    expect(fleet.studio.last.body.messages).toEqual(messages);
  });

  test("#26 #31 non-stream answer: message, finish_reason, usage and the model employed", async () => {
    const answer = await fleet.openai.chat.completions.create({ model: "studio", messages: [user("hi")] });
    expect(answer).toMatchObject({
      object: "chat.completion",
      model: "studio:qwen3-4b-4bit",
      choices: [{ index: 0, message: { role: "assistant", content: "Heard: hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 },
    });
  });

  test("#27 an in-band error reaches the openai SDK and a Companion v1 client (string error, then [DONE])", async () => {
    const raw = await frames(
      await fleet.post("/v1/chat/completions", { model: "studio", messages: [user("fail")], stream: true }),
    );
    expect(raw.slice(-3)).toEqual([
      JSON.stringify({ error: { message: "streaming aborted: GPU hang", type: "generation_failed" } }),
      JSON.stringify({ error: "streaming aborted: GPU hang" }),
      "[DONE]",
    ]);
    const failed = streamed({ model: "studio", messages: [user("fail")] });
    await expect(failed).rejects.toBeInstanceOf(APIError);
    await expect(failed).rejects.toThrow("streaming aborted: GPU hang");
  });

  test("#28 errors before the stream are non-2xx JSON keeping Telemak's codes", async () => {
    fleet.studio.loaded.delete("mlx-community/Qwen3-4B-4bit"); // unloaded behind Ithaca's back
    try {
      const gone = await fleet.call("POST", "/v1/chat/completions", { model: "studio", messages: [user("hi")] });
      expect(gone.status).toBe(404);
      expect(gone.json.error).toMatchObject({
        code: "model_not_loaded",
        message: expect.stringContaining("upstream 'studio'"),
      });
    } finally {
      fleet.studio.loaded.add("mlx-community/Qwen3-4B-4bit");
    }
    const failed = await fleet.call("POST", "/v1/chat/completions", { model: "studio", messages: [user("fail")] });
    expect(failed.status).toBe(502);
    expect(failed.json.error.code).toBe("generation_failed");
  });

  test("#29 an edited or regenerated history never continues Telemak's cached conversation", async () => {
    const ask = async (messages: Array<{ role: "user" | "assistant"; content: string }>) => {
      const answer = await fleet.openai.chat.completions.create({
        model: "studio",
        messages,
        session_id: "conv-edit",
      } as never);
      return answer.choices[0]!.message.content!;
    };
    const first = await ask([user("alpha")]);
    expect(first).toBe("Heard: alpha");
    const second = await ask([user("alpha"), assistant(first), user("beta")]);
    expect(second).toBe("Heard: alpha | beta");
    expect(fleet.studio.last.body.session_id).toBeDefined();
    const continued = fleet.studio.last.body.session_id;
    // Regenerate: the same history again. Telemak alone would answer "alpha | beta | beta".
    expect(await ask([user("alpha"), assistant(first), user("beta")])).toBe("Heard: alpha | beta");
    expect(fleet.studio.last.body.session_id).not.toBe(continued);
    // Edit the first message: Telemak alone would answer "alpha | beta | ... | gamma".
    expect(await ask([user("gamma")])).toBe("Heard: gamma");
    // A plain continuation still hits Telemak's cache.
    const hit = await streamed({
      model: "studio",
      messages: [user("gamma"), assistant("Heard: gamma"), user("delta")],
      session_id: "conv-edit",
    });
    expect(hit.content).toBe("Heard: gamma | delta");
    expect(hit.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });

  test("#32 image parts (data: URIs) reach Telemak as sent", async () => {
    const image = { type: "image_url" as const, image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } };
    const content = [{ type: "text" as const, text: "what is it?" }, image];
    await fleet.openai.chat.completions.create({ model: "studio", messages: [{ role: "user", content }] });
    expect((fleet.studio.last.body.messages as Array<{ content: unknown }>)[0]!.content).toEqual(content);
  });

  test("#33 /v1/messages in front of a Telemak: Anthropic events, reasoning as a thinking block", async () => {
    const anthropic = new Anthropic({ baseURL: fleet.server.url, apiKey: KEY, maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: "studio", max_tokens: 64, messages: [user("think")] });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      expect.objectContaining({ type: "thinking", thinking: "Two and two." }),
      expect.objectContaining({ type: "text", text: "The answer is 4." }),
    ]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.model).toBe("studio");
  });

  test("#34 /v1/embeddings passes through to a loaded embedder", async () => {
    const answer = await fleet.openai.embeddings.create({ model: "duo:qwen3-embedding-0.6b-4bit", input: ["a", "b"] });
    expect(answer.data.map((row) => row.embedding)).toEqual([
      [0.6, 0.8],
      [0.6, 0.8],
    ]);
    expect(fleet.duo.last.body.model).toBe("mlx-community/Qwen3-Embedding-0.6B-4bit");
  });

  test("#35 a Telemak is given time: first byte within 600 s (Companion's wait), loads up to 300 s", async () => {
    const engine = (await fleet.call("GET", "/admin/clusters/studio")).json;
    expect(engine.timeouts).toMatchObject({ first_byte_ms: 600_000 });
  });
});
