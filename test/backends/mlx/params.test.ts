/**
 * Request parameters for the local engine (src/backends/mlx/params.ts): every sampling field of a canonical chat
 * request reaches the engine's GenerateParams (renamed, defaulted) or is refused with a 400 naming it.
 */
import { describe, expect, test } from "bun:test";
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_REPETITION_CONTEXT,
  toGenerateParams,
  toPromptParams,
} from "../../../src/backends/mlx/params.ts";
import type { CanonicalChatRequest } from "../../../src/protocol/canonical.ts";
import type { PromptParams } from "../../../src/engine/prompt.ts";
import type { GenerateParams } from "../../../src/engine/worker-messages.ts";
import { OpenAIError } from "../../../src/protocol/errors.ts";

const MESSAGES = [{ role: "user", content: "Hi" }];
const TOOLS = [{ type: "function", function: { name: "clock", parameters: { type: "object", properties: {} } } }];
const body = (fields: Record<string, unknown> = {}): CanonicalChatRequest => ({
  model: "m",
  messages: MESSAGES,
  ...fields,
});
/** The params of `fields` for an open caller and a model of 1000 tokens. */
const params = (fields: Record<string, unknown>) => toGenerateParams(body(fields), {}, 1000);

/** The parameters of a request that sets nothing: the engine's defaults, every key present. */
const DEFAULTS: GenerateParams = {
  messages: MESSAGES,
  tools: undefined,
  enable_thinking: undefined,
  reasoning_effort: undefined,
  max_tokens: DEFAULT_MAX_TOKENS,
  temperature: 1,
  top_p: 1,
  top_k: 0,
  min_p: 0,
  repetition_penalty: undefined,
  repetition_context_size: DEFAULT_REPETITION_CONTEXT,
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: undefined,
  logprobs: false,
  top_logprobs: 0,
  seed: undefined,
  stop: [],
  session_id: undefined,
  cache_scope: undefined,
};

/** The 400 `fields` get (a model of 1000 tokens). */
function rejection(fields: Record<string, unknown>): OpenAIError {
  try {
    toGenerateParams(body(fields), {}, 1000);
  } catch (error) {
    if (error instanceof OpenAIError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(fields)}`);
}

describe("toGenerateParams", () => {
  test("nothing set: mlx-lm's defaults (512 tokens, temperature 1, filters off, 20-token penalty window)", () => {
    expect(DEFAULT_MAX_TOKENS).toBe(512);
    expect(DEFAULT_REPETITION_CONTEXT).toBe(20);
    expect(toGenerateParams(body(), {})).toStrictEqual(DEFAULTS);
  });

  test("null fields are absent: the defaults apply", () => {
    const nulls = Object.fromEntries(
      ["temperature", "top_p", "top_k", "min_p", "seed", "stop", "max_tokens", "max_completion_tokens", "n"].map(
        (f) => [f, null],
      ),
    );
    const more = {
      repetition_penalty: null,
      logit_bias: null,
      tool_choice: null,
      response_format: null,
      top_logprobs: null,
    };
    expect(params({ ...nulls, ...more })).toStrictEqual(DEFAULTS);
  });

  test("every sampling field is carried over", () => {
    const fields = {
      max_tokens: 100,
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      repetition_penalty: 1.1,
      repetition_context_size: 64,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logit_bias: { "5": -100, "7": 2.5 },
      logprobs: true,
      top_logprobs: 5,
      seed: 42,
      stop: ["END", "\n\n"],
      tools: TOOLS,
      tool_choice: "auto",
      enable_thinking: false,
      reasoning_effort: "low",
      n: 1,
      response_format: { type: "text" },
    };
    expect(toGenerateParams(body(fields), { sessionId: "s1", cacheScope: "key:ab" }, 1000)).toStrictEqual({
      messages: MESSAGES,
      tools: TOOLS,
      enable_thinking: false,
      reasoning_effort: "low",
      max_tokens: 100,
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      repetition_penalty: 1.1,
      repetition_context_size: 64,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logit_bias: { "5": -100, "7": 2.5 },
      logprobs: true,
      top_logprobs: 5,
      seed: 42,
      stop: ["END", "\n\n"],
      session_id: "s1",
      cache_scope: "key:ab",
    });
  });

  test("the range limits themselves are accepted", () => {
    const low = params({
      temperature: 0,
      top_p: 1e-9,
      top_k: 0,
      min_p: 0,
      presence_penalty: -2,
      frequency_penalty: -2,
      seed: 0,
    });
    expect([
      low.temperature,
      low.top_p,
      low.top_k,
      low.min_p,
      low.presence_penalty,
      low.frequency_penalty,
      low.seed,
    ]).toEqual([0, 1e-9, 0, 0, -2, -2, 0]);
    const high = params({
      temperature: 2,
      top_p: 1,
      min_p: 1,
      presence_penalty: 2,
      frequency_penalty: 2,
      max_tokens: 1,
    });
    expect([
      high.temperature,
      high.top_p,
      high.min_p,
      high.presence_penalty,
      high.frequency_penalty,
      high.max_tokens,
    ]).toEqual([2, 1, 1, 2, 2, 1]);
    expect(params({ logprobs: true, top_logprobs: 20 }).top_logprobs).toBe(20);
    expect(params({ repetition_context_size: 1 << 20 }).repetition_context_size).toBe(1 << 20);
    expect(params({ logit_bias: { "0": 100, "999": -100 } }).logit_bias).toEqual({ "0": 100, "999": -100 });
  });

  test("max_completion_tokens wins over max_tokens; either alone is the budget", () => {
    expect(params({ max_tokens: 100, max_completion_tokens: 50 }).max_tokens).toBe(50);
    expect(params({ max_completion_tokens: 70 }).max_tokens).toBe(70);
    expect(params({ max_tokens: 30 }).max_tokens).toBe(30);
    expect(params({ max_tokens: 30, max_completion_tokens: null }).max_tokens).toBe(30);
  });

  test("stop: one string or a list; empty strings dropped", () => {
    expect(params({ stop: "END" }).stop).toEqual(["END"]);
    expect(params({ stop: ["a", "", "b"] }).stop).toEqual(["a", "b"]);
    expect(params({ stop: "" }).stop).toEqual([]);
    expect(params({ stop: ["1", "2", "3", "4"] }).stop).toEqual(["1", "2", "3", "4"]);
  });

  test("repetition_penalty 1 is off (absent)", () => {
    expect(params({ repetition_penalty: 1 }).repetition_penalty).toBeUndefined();
    expect(params({ repetition_penalty: 0.5 }).repetition_penalty).toBe(0.5);
  });

  test("logprobs without top_logprobs; an empty logit_bias is none; no vocabulary size: any id", () => {
    expect([params({ logprobs: true }).logprobs, params({ logprobs: true }).top_logprobs]).toEqual([true, 0]);
    expect(params({ logprobs: false, top_logprobs: 0 }).logprobs).toBe(false);
    expect(params({ logit_bias: {} }).logit_bias).toBeUndefined();
    expect(toGenerateParams(body({ logit_bias: { "123456": 1 } }), {}).logit_bias).toEqual({ "123456": 1 });
  });

  test("tools: shown with tool_choice auto or unset, hidden with none; an empty list is none", () => {
    expect(params({ tools: TOOLS }).tools).toEqual(TOOLS);
    expect(params({ tools: TOOLS, tool_choice: "auto" }).tools).toEqual(TOOLS);
    expect(params({ tools: TOOLS, tool_choice: "none" }).tools).toBeUndefined();
    expect(params({ tools: [] }).tools).toBeUndefined();
  });

  test("structured outputs: response_format and forced tool calls become the engine's grammar", () => {
    const schema = { type: "object", properties: { a: { type: "integer" } } };
    expect(params({}).grammar).toBeUndefined();
    expect(params({ response_format: { type: "text" } }).grammar).toBeUndefined();
    expect(params({ response_format: { type: "json_object" } }).grammar).toEqual({ type: "json_object" });
    const strict = { type: "json_schema", json_schema: { name: "a", schema, strict: true } };
    expect(params({ response_format: strict }).grammar).toEqual({ type: "json_schema", schema });
    expect(params({ tools: TOOLS, tool_choice: "auto" }).grammar).toBeUndefined();
    expect(params({ tools: TOOLS, tool_choice: "required" }).grammar).toEqual({ type: "tool_call", parallel: true });
    expect(params({ tools: TOOLS, tool_choice: "required", parallel_tool_calls: false }).grammar).toEqual({
      type: "tool_call",
      parallel: false,
    });
    const named = { type: "function", function: { name: "clock" } };
    expect(params({ tools: TOOLS, tool_choice: named }).grammar).toEqual({
      type: "tool_call",
      name: "clock",
      parallel: false,
    });
  });

  test("enable_thinking and reasoning_effort are carried when of the right type, otherwise left out", () => {
    expect(params({ enable_thinking: true, reasoning_effort: "high" })).toMatchObject({
      enable_thinking: true,
      reasoning_effort: "high",
    });
    const wrong = params({ enable_thinking: "yes", reasoning_effort: 3 });
    expect([wrong.enable_thinking, wrong.reasoning_effort]).toEqual([undefined, undefined]);
  });

  test("the caller's session and cache scope", () => {
    expect(toGenerateParams(body(), { sessionId: "conv-1" })).toMatchObject({
      session_id: "conv-1",
      cache_scope: undefined,
    });
    expect(toGenerateParams(body(), { cacheScope: "admin" })).toMatchObject({
      session_id: undefined,
      cache_scope: "admin",
    });
  });

  const invalid: Array<[string, Record<string, unknown>, string, string]> = [
    ["n > 1", { n: 2 }, "n", "the local engine supports only n = 1"],
    ["n = 0", { n: 0 }, "n", "n must be between 1 and 128"],
    ["n not an integer", { n: 1.5 }, "n", "n must be an integer"],
    [
      "response_format json_schema without a schema",
      { response_format: { type: "json_schema", json_schema: {} } },
      "response_format",
      "needs json_schema.schema",
    ],
    [
      "response_format with a forced tool call",
      { response_format: { type: "json_object" }, tools: TOOLS, tool_choice: "required" },
      "response_format",
      "cannot be combined",
    ],
    ["max_tokens 0", { max_tokens: 0 }, "max_tokens", "max_tokens must be between 1 and"],
    ["max_tokens not an integer", { max_tokens: 10.5 }, "max_tokens", "max_tokens must be an integer"],
    ["max_tokens a string", { max_tokens: "100" }, "max_tokens", "max_tokens must be a number"],
    [
      "max_completion_tokens 0",
      { max_tokens: 10, max_completion_tokens: 0 },
      "max_completion_tokens",
      "max_completion_tokens must be between 1 and",
    ],
    ["temperature above 2", { temperature: 2.5 }, "temperature", "temperature must be between 0 and 2"],
    ["temperature below 0", { temperature: -0.1 }, "temperature", "temperature must be between 0 and 2"],
    ["temperature infinite", { temperature: Infinity }, "temperature", "temperature must be a number"],
    ["temperature NaN", { temperature: NaN }, "temperature", "temperature must be a number"],
    ["top_p 0", { top_p: 0 }, "top_p", "top_p must be in (0, 1]"],
    ["top_p above 1", { top_p: 1.5 }, "top_p", "top_p must be between 0 and 1"],
    ["top_k negative", { top_k: -1 }, "top_k", "top_k must be between 0 and"],
    ["top_k not an integer", { top_k: 2.5 }, "top_k", "top_k must be an integer"],
    ["min_p above 1", { min_p: 1.5 }, "min_p", "min_p must be between 0 and 1"],
    ["repetition_penalty 0", { repetition_penalty: 0 }, "repetition_penalty", "repetition_penalty must be positive"],
    [
      "repetition_penalty negative",
      { repetition_penalty: -1 },
      "repetition_penalty",
      "repetition_penalty must be positive",
    ],
    [
      "repetition_context_size 0",
      { repetition_context_size: 0 },
      "repetition_context_size",
      "repetition_context_size must be between 1 and 1048576",
    ],
    [
      "presence_penalty above 2",
      { presence_penalty: 3 },
      "presence_penalty",
      "presence_penalty must be between -2 and 2",
    ],
    [
      "frequency_penalty below -2",
      { frequency_penalty: -3 },
      "frequency_penalty",
      "frequency_penalty must be between -2 and 2",
    ],
    ["seed negative", { seed: -1 }, "seed", "seed must be a non-negative integer"],
    ["seed not an integer", { seed: 1.5 }, "seed", "seed must be a non-negative integer"],
    ["seed beyond 2^53", { seed: 2 ** 53 }, "seed", "seed must be a non-negative integer"],
    ["seed a string", { seed: "42" }, "seed", "seed must be a number"],
    ["five stop strings", { stop: ["1", "2", "3", "4", "5"] }, "stop", "at most 4 stop sequences are allowed"],
    [
      "top_logprobs above 20",
      { logprobs: true, top_logprobs: 21 },
      "top_logprobs",
      "top_logprobs must be between 0 and 20",
    ],
    ["top_logprobs without logprobs", { top_logprobs: 3 }, "top_logprobs", "top_logprobs requires logprobs: true"],
    [
      "top_logprobs with logprobs false",
      { logprobs: false, top_logprobs: 3 },
      "top_logprobs",
      "top_logprobs requires logprobs: true",
    ],
    [
      "a logit_bias key that is not a number",
      { logit_bias: { abc: 1 } },
      "logit_bias",
      "logit_bias key 'abc' is not a token id of this model",
    ],
    ["a negative logit_bias key", { logit_bias: { "-1": 1 } }, "logit_bias", "logit_bias key '-1' is not a token id"],
    [
      "a fractional logit_bias key",
      { logit_bias: { "1.5": 1 } },
      "logit_bias",
      "logit_bias key '1.5' is not a token id",
    ],
    [
      "a logit_bias key past the vocabulary",
      { logit_bias: { "1000": 1 } },
      "logit_bias",
      "logit_bias key '1000' is not a token id",
    ],
    [
      "a logit_bias value above 100",
      { logit_bias: { "5": 101 } },
      "logit_bias",
      "logit_bias values must be between -100 and 100",
    ],
    [
      "a logit_bias value below -100",
      { logit_bias: { "5": -101 } },
      "logit_bias",
      "logit_bias values must be between -100 and 100",
    ],
    ["tool_choice required without tools", { tool_choice: "required" }, "tool_choice", "has no tools"],
    [
      "tool_choice naming a function not given",
      { tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } },
      "tool_choice",
      "names 'nope', not a given tool",
    ],
  ];
  test.each(invalid)("400 for %s, naming the field", (_name, fields, param, fragment) => {
    const error = rejection(fields);
    expect([error.status, error.param]).toEqual([400, param]);
    expect(error.message).toContain(fragment);
  });
});

describe("toPromptParams", () => {
  test("only the fields that shape the prompt", () => {
    const fields = {
      tools: TOOLS,
      enable_thinking: true,
      reasoning_effort: "medium",
      temperature: 0.1,
      max_tokens: 9,
      seed: 1,
    };
    expect(toPromptParams(body(fields))).toStrictEqual({
      messages: MESSAGES,
      tools: TOOLS,
      enable_thinking: true,
      reasoning_effort: "medium",
    });
    expect(toPromptParams(body())).toStrictEqual({
      messages: MESSAGES,
      tools: undefined,
      enable_thinking: undefined,
      reasoning_effort: undefined,
    });
  });

  test("the same prompt fields as toGenerateParams: tools hidden by tool_choice none, wrong types left out", () => {
    const fields = { tools: TOOLS, tool_choice: "none", enable_thinking: 1, reasoning_effort: ["low"] };
    const prompt = toPromptParams(body(fields));
    expect(prompt).toStrictEqual({
      messages: MESSAGES,
      tools: undefined,
      enable_thinking: undefined,
      reasoning_effort: undefined,
    });
    const { messages, tools, enable_thinking, reasoning_effort } = toGenerateParams(body(fields), {});
    const fromGenerate: PromptParams = { messages, tools, enable_thinking, reasoning_effort };
    expect(fromGenerate).toStrictEqual(prompt);
  });

  test("sampling values are not checked here (a prompt can be counted for any request)", () => {
    expect(() =>
      toPromptParams(body({ temperature: 9, n: 3, response_format: { type: "json_object" } })),
    ).not.toThrow();
  });

  test("a forced tool_choice shows the tools, as the answer's prompt does", () => {
    expect(toPromptParams(body({ tools: TOOLS, tool_choice: "required" })).tools).toEqual(TOOLS);
  });
});
