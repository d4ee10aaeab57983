/**
 * Structured outputs on the local engine, end to end over HTTP with the real `openai` and `@anthropic-ai/sdk`
 * clients: `response_format` (chat completions), `text.format` (responses), `output_config.format` (messages), and
 * forced tool calls (`tool_choice` required / a named function; `any` / `tool`). The model has random weights, so it
 * never writes valid JSON by itself: every answer below is valid only because grammar-constrained decoding
 * (llguidance) enforces it. Each answer is parsed and checked with a JSON-schema validator (ajv, draft 2020-12).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import Ajv2020 from "ajv/dist/2020.js";
import OpenAI from "openai";
import { SCHEMAS, UNSUPPORTED } from "../fixtures/json-schemas.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

type Schema = Record<string, unknown>;

const ajv = new Ajv2020({ strict: false });
const USER = { role: "user" as const, content: "Answer in JSON." };
const MAX_TOKENS = 200;

let server: RunningIthaca;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  server = await startIthaca({ models: [{ id: "tiny", path: makeModel("qwen3", { seed: 5 }) }] });
  openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
});
afterAll(() => server?.close());

/** Parses `text` and checks it against `schema`; the failure message shows the text and ajv's errors. */
function expectValid(schema: Schema, text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${JSON.stringify(text)}`);
  }
  const valid = ajv.validate(schema, value);
  expect(valid ? "" : `${text}: ${ajv.errorsText()}`).toBe("");
}

/** Chat completions with `response_format`, stream or not: the answer's text and finish reason. */
async function viaChat(format: OpenAI.ChatCompletionCreateParams["response_format"], stream: boolean, user = USER) {
  const body = { model: "tiny", messages: [user], max_tokens: MAX_TOKENS, temperature: 0, response_format: format };
  if (!stream) {
    const r = await openai.chat.completions.create(body);
    return { text: r.choices[0]!.message.content ?? "", finish: r.choices[0]!.finish_reason };
  }
  let text = "";
  let finish: string | null = null;
  for await (const chunk of await openai.chat.completions.create({ ...body, stream: true })) {
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

/** Messages with `output_config.format`, stream or not: the answer's text and stop reason. */
async function viaMessages(schema: Schema, stream: boolean) {
  const body = {
    model: "tiny",
    messages: [USER],
    max_tokens: MAX_TOKENS,
    temperature: 0,
    output_config: { format: { type: "json_schema" as const, schema } },
  };
  if (!stream) {
    const r = await anthropic.messages.create(body);
    return { text: r.content.map((b) => (b.type === "text" ? b.text : "")).join(""), finish: r.stop_reason };
  }
  let text = "";
  let finish: string | null = null;
  for await (const event of await anthropic.messages.create({ ...body, stream: true })) {
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    if (event.type === "message_delta") finish = event.delta.stop_reason;
  }
  return { text, finish };
}

describe(`the schema suite (${SCHEMAS.length} schemas), both dialects`, () => {
  test.each(SCHEMAS.map(([name, schema], i) => [name, schema, i] as const))("%s", async (_name, schema, i) => {
    const format = { type: "json_schema" as const, json_schema: { name: "answer", schema, strict: true } };
    const chat = await viaChat(format, i % 2 === 1);
    expectValid(schema, chat.text);
    expect(chat.finish).toBe("stop");
    const messages = await viaMessages(schema, i % 2 === 0);
    expectValid(schema, messages.text);
    expect(messages.finish).toBe("end_turn");
  });
});

describe("response_format json_object and /v1/responses text.format", () => {
  for (const stream of [false, true]) {
    // Nothing bounds a json_object's strings: this prompt is one the random model (greedy) ends within max_tokens.
    test(`json_object${stream ? ", streamed" : ""}: a JSON object`, async () => {
      const r = await viaChat({ type: "json_object" }, stream, { role: "user", content: "hi" });
      expectValid({ type: "object" }, r.text);
      expect(r.finish).toBe("stop");
    });

    test(`responses text.format json_schema${stream ? ", streamed" : ""}`, async () => {
      for (const [name, schema] of SCHEMAS.slice(0, 4)) {
        const body = {
          model: "tiny",
          input: "Answer in JSON.",
          max_output_tokens: MAX_TOKENS,
          temperature: 0,
          text: { format: { type: "json_schema" as const, name: name.replaceAll(" ", "_"), schema, strict: true } },
        };
        let text = "";
        if (stream) {
          for await (const e of await openai.responses.create({ ...body, stream: true })) {
            if (e.type === "response.output_text.delta") text += e.delta;
          }
        } else {
          text = (await openai.responses.create(body)).output_text;
        }
        expectValid(schema, text);
      }
    });
  }
});

/** Two tools whose parameters come from the suite. */
const TOOLS: Array<{ name: string; parameters: Schema }> = [
  { name: "locate", parameters: SCHEMAS.find(([n]) => n === "$defs and $ref")![1] },
  { name: "book", parameters: SCHEMAS.find(([n]) => n === "optional fields")![1] },
];
const parametersOf = (name: string) => TOOLS.find((t) => t.name === name)!.parameters;
const openaiTools = TOOLS.map((t) => ({ type: "function" as const, function: t }));
const anthropicTools = TOOLS.map((t) => ({ name: t.name, input_schema: { type: "object" as const, ...t.parameters } }));

describe("forced tool calls", () => {
  const choices: Array<[string, OpenAI.ChatCompletionToolChoiceOption, string[]]> = [
    ["required", "required", ["locate", "book"]],
    ["a named function", { type: "function", function: { name: "book" } }, ["book"]],
  ];
  for (const [label, choice, allowed] of choices) {
    for (const stream of [false, true]) {
      test(`chat completions, tool_choice ${label}${stream ? ", streamed" : ""}`, async () => {
        const body = { model: "tiny", messages: [USER], max_tokens: MAX_TOKENS, temperature: 0 };
        const request = { ...body, tools: openaiTools, tool_choice: choice };
        const calls: Array<{ name: string; arguments: string }> = [];
        let finish: string | null = null;
        if (stream) {
          for await (const chunk of await openai.chat.completions.create({ ...request, stream: true })) {
            for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
              calls.push({ name: call.function!.name!, arguments: call.function!.arguments! });
            }
            finish = chunk.choices[0]?.finish_reason ?? finish;
          }
        } else {
          const r = await openai.chat.completions.create(request);
          for (const call of r.choices[0]!.message.tool_calls ?? []) {
            if (call.type === "function") calls.push(call.function);
          }
          finish = r.choices[0]!.finish_reason;
        }
        expect(finish).toBe("tool_calls");
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) {
          expect(allowed).toContain(call.name);
          expectValid(parametersOf(call.name), call.arguments);
        }
      });
    }
  }

  const anthropicChoices: Array<[string, Anthropic.ToolChoice, string[]]> = [
    ["any", { type: "any" }, ["locate", "book"]],
    ["tool", { type: "tool", name: "locate" }, ["locate"]],
  ];
  for (const [label, choice, allowed] of anthropicChoices) {
    for (const stream of [false, true]) {
      test(`messages, tool_choice ${label}${stream ? ", streamed" : ""}`, async () => {
        const request = {
          model: "tiny",
          messages: [USER],
          max_tokens: MAX_TOKENS,
          temperature: 0,
          tools: anthropicTools,
          tool_choice: choice,
        };
        const calls: Array<{ name: string; input: string }> = [];
        let finish: string | null = null;
        if (stream) {
          let current: { name: string; input: string } | undefined;
          for await (const e of await anthropic.messages.create({ ...request, stream: true })) {
            if (e.type === "content_block_start" && e.content_block.type === "tool_use") {
              current = { name: e.content_block.name, input: "" };
              calls.push(current);
            }
            if (e.type === "content_block_delta" && e.delta.type === "input_json_delta")
              current!.input += e.delta.partial_json;
            if (e.type === "message_delta") finish = e.delta.stop_reason;
          }
        } else {
          const r = await anthropic.messages.create(request);
          for (const b of r.content)
            if (b.type === "tool_use") calls.push({ name: b.name, input: JSON.stringify(b.input) });
          finish = r.stop_reason;
        }
        expect(finish).toBe("tool_use");
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) {
          expect(allowed).toContain(call.name);
          expectValid(parametersOf(call.name), call.input);
        }
      });
    }
  }
});

describe("what cannot be enforced is a 400 in the caller's dialect, naming the construct", () => {
  const [schema, construct] = UNSUPPORTED;

  for (const stream of [false, true]) {
    test(`chat completions${stream ? ", streamed" : ""}: 400 naming response_format and ${construct}`, async () => {
      const format = { type: "json_schema" as const, json_schema: { name: "bad", schema } };
      const err = await viaChat(format, stream).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(400);
      expect(err.error).toMatchObject({ param: "response_format", code: "unsupported_schema" });
      expect(err.error.message).toContain(construct);
    });
  }

  test(`messages: an Anthropic invalid_request_error naming ${construct}`, async () => {
    const err = await viaMessages(schema, false).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(err.error.error.message).toContain(construct);
  });

  test("a tool's parameters schema that cannot be enforced: 400 naming tools", async () => {
    const tools = [{ type: "function" as const, function: { name: "f", parameters: { type: "object", ...schema } } }];
    const body = { model: "tiny", messages: [USER], max_tokens: 8, tools, tool_choice: "required" as const };
    const err = await openai.chat.completions.create(body).catch((e) => e);
    expect([err.status, err.error?.param]).toEqual([400, "tools"]);
    expect(err.error.message).toContain(construct);
  });
});

describe("capabilities", () => {
  test("/v1/models says supports_json_mode, the contract says json_mode and structured-outputs", async () => {
    const models = (await (await fetch(`${server.baseURL}/models`)).json()) as {
      data: Array<{ id: string; x_odyssai: { supports_json_mode: boolean } }>;
    };
    expect(models.data.find((m) => m.id === "tiny")!.x_odyssai.supports_json_mode).toBe(true);
    const contract = (await (await fetch(`${server.url}/.well-known/inference-engine.json`)).json()) as {
      features: string[];
      capabilities: { json_mode: boolean };
      models: Array<{ id: string; capabilities: string[] }>;
    };
    expect(contract.capabilities.json_mode).toBe(true);
    expect(contract.features).toContain("structured-outputs");
    expect(contract.models.find((m) => m.id === "tiny")!.capabilities).toContain("json-mode");
  });
});
