/**
 * End to end with the real `openai` SDK as the client:
 * (a) a local model computed in-process through MLX, stream and non-stream;
 * (b) through Ithaca to a real `mlx_lm.server` serving the same generated model;
 * (c) through Ithaca to a second Ithaca process standing in for a Telemak;
 * (e) a client abort mid-stream stops local generation (the Worker's cancelled counter, read from /health).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { BUN, makeModel, REPO, tempDir } from "../helpers/paths.ts";
import { freePort, startServerProcess, type ServerProcess } from "../helpers/processes.ts";

const MESSAGES = [{ role: "user" as const, content: "Name three colours of the sea." }];

let modelDir: string;
let local: RunningIthaca;
let client: OpenAI;

beforeAll(async () => {
  modelDir = makeModel("qwen3", { seed: 5 });
  local = await startIthaca({ models: [{ id: "tiny", path: modelDir }] });
  client = new OpenAI({ baseURL: local.baseURL, apiKey: "unused", maxRetries: 0 });
});
afterAll(() => local?.close());

describe("(a) local MLX model", () => {
  test("non-stream completion with usage", async () => {
    const r = await client.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 16,
      temperature: 0,
    });
    expect(r.object).toBe("chat.completion");
    expect(r.model).toBe("tiny");
    expect(r.choices[0]!.message.role).toBe("assistant");
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.choices[0]!.finish_reason).toBe("length");
    expect(r.usage!.completion_tokens).toBe(16);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(5);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + 16);
    expect(r.usage!.prompt_tokens_details?.cached_tokens).toBe(0);
  });

  test("stream: role chunk, content deltas equal to the non-stream text, finish chunk, then a usage chunk with no choices", async () => {
    const whole = await client.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 20,
      temperature: 0,
    });
    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 20,
      temperature: 0,
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(whole.choices[0]!.message.content!);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]!.finish_reason).toBe("length");
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBe(20);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  test("n > 1 is refused with a 400 naming the field, not silently ignored", async () => {
    const err = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, n: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(400);
    expect(err.error?.param ?? err.param).toBe("n");
  });
});

describe("(e) client abort", () => {
  test("aborting mid-stream cancels local generation (observable in /health)", async () => {
    const cancelled = async () => {
      const h = (await (await fetch(`${local.url}/health`)).json()) as {
        backends: { local: { models: { tiny: { cancelled: number } } } };
      };
      return h.backends.local.models.tiny.cancelled;
    };
    const before = await cancelled();
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "tiny", messages: MESSAGES, max_tokens: 4000, temperature: 0, stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    try {
      for await (const _ of stream) if (++n === 4) ac.abort();
    } catch (e) {
      expect((e as Error).name).toMatch(/Abort/);
    }
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await Bun.sleep(100);
      after = await cancelled();
    }
    expect(after).toBe(before + 1);
  });
});

describe("(b) through Ithaca to mlx_lm.server", () => {
  let mlxServer: ServerProcess;
  let proxy: RunningIthaca;

  beforeAll(async () => {
    const port = await freePort();
    mlxServer = await startServerProcess(
      [join(REPO, ".venv", "bin", "mlx_lm.server"), "--model", modelDir, "--host", "127.0.0.1", "--port", String(port)],
      port,
      { readyPath: "/v1/models", timeoutMs: 90_000 },
    );
    proxy = await startIthaca({
      upstreams: [{ id: "mlxlm", kind: "openai-http", base_url: `${mlxServer.url}/v1`, models: [modelDir] }],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await mlxServer?.stop();
  });

  test("catalog lists the upstream model under the upstream's prefix", async () => {
    const models = await new OpenAI({ baseURL: proxy.baseURL, apiKey: "x" }).models.list();
    expect(models.data.map((m) => m.id)).toContain(`mlxlm:${modelDir.split("/").at(-1)!.toLowerCase()}`);
  });

  test("greedy answer through Ithaca equals Ithaca's own local answer, stream and non-stream", async () => {
    const id = `mlxlm:${modelDir.split("/").at(-1)!.toLowerCase()}`;
    const via = new OpenAI({ baseURL: proxy.baseURL, apiKey: "x", maxRetries: 0 });
    const upstream = await via.chat.completions.create({
      model: id,
      messages: MESSAGES,
      max_tokens: 12,
      temperature: 0,
    });
    const ours = await client.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 12,
      temperature: 0,
    });
    expect(upstream.choices[0]!.message.content).toBe(ours.choices[0]!.message.content);
    const stream = await via.chat.completions.create({
      model: id,
      messages: MESSAGES,
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    expect(text).toBe(ours.choices[0]!.message.content!);
  });
});

describe("(c) through Ithaca to a second Ithaca standing in for a Telemak", () => {
  let telemak: ServerProcess;
  let proxy: RunningIthaca;

  beforeAll(async () => {
    const port = await freePort();
    telemak = await startServerProcess(
      [BUN, join(REPO, "src", "main.ts"), "serve", "--port", String(port), "--model", modelDir],
      port,
      {
        readyPath: "/health",
        timeoutMs: 60_000,
        cwd: REPO,
        env: { ITHACA_HOME: tempDir("ithaca-home-") },
      },
    );
    proxy = await startIthaca({ upstreams: [{ id: "telemak1", kind: "openai-http", base_url: `${telemak.url}/v1` }] });
  });
  afterAll(async () => {
    await proxy?.close();
    await telemak?.stop();
  });

  test("models are discovered from the upstream and answer stream and non-stream", async () => {
    const via = new OpenAI({ baseURL: proxy.baseURL, apiKey: "x", maxRetries: 0 });
    const ids = (await via.models.list()).data.map((m) => m.id);
    const id = ids.find((m) => m.startsWith("telemak1:"));
    expect(id).toBeDefined();
    const r = await via.chat.completions.create({
      model: id!,
      messages: MESSAGES,
      max_tokens: 10,
      temperature: 0,
      seed: 1,
    });
    const ours = await client.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 10,
      temperature: 0,
    });
    expect(r.choices[0]!.message.content).toBe(ours.choices[0]!.message.content);
    expect(r.usage!.completion_tokens).toBe(10);
    const stream = await via.chat.completions.create({
      model: id!,
      messages: MESSAGES,
      max_tokens: 10,
      temperature: 0,
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(10);
  });
});
