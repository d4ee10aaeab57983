/**
 * Bad requests get the right 4xx in the OpenAI error shape, naming the problem, and the server keeps serving.
 * Real HTTP on 127.0.0.1 against a real (fake-upstream-backed) Ithaca.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const LIMIT = 4096;
let upstream: FakeUpstream;
let server: RunningIthaca;

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["org/Tiny-4bit"] });
  server = await startIthaca({
    server: { body_limit_bytes: LIMIT },
    upstreams: [{ id: "up1", kind: "openai-http", base_url: upstream.baseUrl }],
  });
});

afterAll(async () => {
  await server.close();
  upstream.stop();
});

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function post(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** Asserts an OpenAI error response and that the server still answers /health afterwards. */
async function expectError(response: Response, status: number): Promise<ErrorBody["error"]> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = (await response.json()) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof body.error.message).toBe("string");
  const health = await fetch(`${server.url}/health`);
  expect(health.status).toBe(200);
  return body.error;
}

const hello = [{ role: "user", content: "hi" }];

describe("bad input", () => {
  test("invalid JSON: 400 naming the parse problem", async () => {
    const error = await expectError(await post('{"model":"up1",'), 400);
    expect(error.code).toBe("invalid_json");
    expect(error.message).toContain("not valid JSON");
    expect(error.message).toContain("JSON Parse error");
  });

  test("empty body: 400", async () => {
    const error = await expectError(await post(""), 400);
    expect(error.code).toBe("invalid_json");
  });

  test("missing messages: 400 with param messages", async () => {
    const error = await expectError(await post(JSON.stringify({ model: "up1" })), 400);
    expect(error.param).toBe("messages");
    expect(error.code).toBe("missing_required_parameter");
    expect(error.type).toBe("invalid_request_error");
  });

  test("missing model: 400 with param model", async () => {
    const error = await expectError(await post(JSON.stringify({ messages: hello })), 400);
    expect(error.param).toBe("model");
  });

  test("temperature: 'hot' is named with its path and the expected type", async () => {
    const error = await expectError(
      await post(JSON.stringify({ model: "up1", messages: hello, temperature: "hot" })),
      400,
    );
    expect(error.param).toBe("temperature");
    expect(error.message).toContain("'temperature'");
    expect(error.message).toContain("number");
  });

  test("messages: 'x' is named", async () => {
    const error = await expectError(await post(JSON.stringify({ model: "up1", messages: "x" })), 400);
    expect(error.param).toBe("messages");
    expect(error.message).toContain("Array");
  });

  test("a nested field is named by its dot path", async () => {
    const messages = [
      { role: "user", content: "hi" },
      { role: "bot", content: "?" },
    ];
    const error = await expectError(await post(JSON.stringify({ model: "up1", messages })), 400);
    expect(error.param).toBe("messages.1.role");
  });

  test("out of range: top_p 3", async () => {
    const error = await expectError(await post(JSON.stringify({ model: "up1", messages: hello, top_p: 3 })), 400);
    expect(error.param).toBe("top_p");
  });

  test("unknown model: 404 model_not_found listing what is servable", async () => {
    const error = await expectError(await post(JSON.stringify({ model: "gpt-9", messages: hello })), 404);
    expect(error).toEqual({
      message: "The model 'gpt-9' does not exist. Available: up1:tiny-4bit",
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
  });

  test("declared body over the limit: 413 before reading it", async () => {
    const big = JSON.stringify({ model: "up1", messages: [{ role: "user", content: "x".repeat(LIMIT) }] });
    const error = await expectError(await post(big), 413);
    expect(error.code).toBe("request_too_large");
    expect(error.message).toContain(`${LIMIT} bytes`);
    expect(error.message).toContain(`${big.length} bytes`);
  });

  test("chunked body over the limit: 413 while reading it", async () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ model: "up1", messages: [{ role: "user", content: "y".repeat(LIMIT) }] }),
    );
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 1000)
          controller.enqueue(bytes.slice(offset, offset + 1000));
        controller.close();
      },
    });
    const error = await expectError(await post(chunked), 413);
    expect(error.code).toBe("request_too_large");
    expect(error.message).toContain(`limit of ${LIMIT} bytes`);
  });

  test("unknown route: 404 in the OpenAI shape", async () => {
    const error = await expectError(await fetch(`${server.url}/v1/nothing`), 404);
    expect(error.message).toBe("Invalid URL (GET /v1/nothing)");
  });

  test("after all that, a good request still works", async () => {
    const response = await post(JSON.stringify({ model: "up1", messages: hello }));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
  });
});
