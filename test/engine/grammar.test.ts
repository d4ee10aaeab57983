/**
 * The tool-call grammars (src/engine/grammar/grammar.ts) compiled by llguidance for a generated model's tokenizer and
 * walked with random allowed tokens: whatever path the sampler takes, the text parses as the model's tool-call syntax
 * (the engine's own output parser) into arguments valid against the tool's parameters schema (ajv).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { GrammarRequestError, larkGrammar } from "../../src/engine/grammar/grammar.ts";
import { LlgMatcher, LlgTokenizer } from "../../src/engine/grammar/llguidance.ts";
import { type OutputFormat, OutputParser } from "../../src/engine/output/parser.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import type { ToolCallDelta } from "../../src/engine/worker-messages.ts";
import { makeModel } from "../helpers/paths.ts";

const PARAMETERS = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 6 },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
    hourly: { type: "boolean" },
    where: { $ref: "#/$defs/point" },
  },
  required: ["city", "days", "where"],
  additionalProperties: false,
  $defs: {
    point: {
      type: "object",
      properties: { x: { type: "integer", minimum: 0, maximum: 9 } },
      required: ["x"],
      additionalProperties: false,
    },
  },
};
const TOOLS = [{ type: "function", function: { name: "forecast", parameters: PARAMETERS } }];

let tokenizer: ModelTokenizer;
let vocabulary: LlgTokenizer;

beforeAll(() => {
  const dir = makeModel("qwen3", { seed: 5 });
  const vocabSize = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).vocab_size;
  tokenizer = new ModelTokenizer(dir);
  vocabulary = new LlgTokenizer(readFileSync(join(dir, "tokenizer.json")), vocabSize, [...tokenizer.eosTokenIds]);
});
afterAll(() => vocabulary?.free());

/** A seeded walk through the grammar: a random allowed token each step, EOS as soon as it is allowed. */
function walk(grammar: string, seed: number): string {
  const matcher = new LlgMatcher(vocabulary, "lark", grammar);
  const mask = new Uint32Array(matcher.maskWords);
  const tokens: number[] = [];
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  let complete = false;
  try {
    for (let i = 0; i < 400 && !complete; i++) {
      matcher.computeMask(mask);
      const allowed: number[] = [];
      for (let t = 0; t < vocabulary.vocabSize; t++) if ((mask[t >> 5]! >>> (t & 31)) & 1) allowed.push(t);
      const eos = allowed.find((t) => tokenizer.eosTokenIds.has(t));
      const token = eos ?? allowed[Math.floor(random() * allowed.length)]!;
      complete = eos !== undefined;
      if (complete) break;
      matcher.consume(token);
      tokens.push(token);
      complete = matcher.stopped;
    }
    expect(complete).toBe(true);
  } finally {
    matcher.free();
  }
  return tokenizer.decode(tokens);
}

const ajv = new Ajv2020({ strict: false });

describe("forced tool calls in the model's syntax, read back by the output parser", () => {
  for (const format of ["hermes", "qwen3_coder"] as const) {
    test(`${format}: every walk is one valid call of the named tool`, () => {
      const output: OutputFormat = { toolCalls: format };
      const grammar = larkGrammar({ type: "tool_call", name: "forecast", parallel: false }, output, TOOLS, false);
      for (let seed = 1; seed <= 8; seed++) {
        const text = walk(grammar, seed);
        const parser = new OutputParser(output, { tools: TOOLS });
        const deltas = [...parser.push(text), ...parser.flush()];
        const calls = deltas.flatMap((d) => d.tool_calls ?? []) as ToolCallDelta[];
        expect(deltas.filter((d) => d.content)).toEqual([]);
        expect(calls.map((c) => c.function.name)).toEqual(["forecast"]);
        const args = JSON.parse(calls[0]!.function.arguments);
        expect(ajv.validate(PARAMETERS, args) ? "" : `${text}: ${ajv.errorsText()}`).toBe("");
      }
    });
  }

  test("a model without tool-call syntax, or an unknown tool: a GrammarRequestError naming tool_choice", () => {
    const cases: Array<[OutputFormat, string]> = [
      [{}, "no tool-call syntax"],
      [{ toolCalls: "hermes" }, "no tool named 'nope'"],
    ];
    for (const [output, message] of cases) {
      const name = output.toolCalls ? "nope" : "forecast";
      let error: unknown;
      try {
        larkGrammar({ type: "tool_call", name, parallel: false }, output, TOOLS, false);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GrammarRequestError);
      expect((error as GrammarRequestError).param).toBe("tool_choice");
      expect((error as Error).message).toContain(message);
    }
  });
});
