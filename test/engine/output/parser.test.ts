/**
 * The chained output parser: format detection from chat templates, whether a prompt opens reasoning, and reasoning
 * + tool calls together (table of answers, each also fed in every cut), tool calls ignored inside reasoning or when
 * the request has no tools, the tool-call count.
 */
import { describe, expect, test } from "bun:test";
import { LLAMA3_CHAT_TEMPLATE, QWEN3_CHAT_TEMPLATE } from "../../../scripts/make-model/templates.ts";
import {
  detectOutputFormat,
  OutputParser,
  promptOpensReasoning,
  type OutputFormat,
} from "../../../src/engine/output/parser.ts";
import { expectStable, feed, type Item } from "./streaming.ts";

const THINK = { start: "<think>", end: "</think>" };
const TOOLS = [
  { type: "function", function: { name: "f", parameters: { type: "object", properties: { n: { type: "integer" } } } } },
];
const CALL = '<tool_call>\n{"name": "f", "arguments": {"n": 1}}\n</tool_call>';

describe("detectOutputFormat", () => {
  const table: [string, string, OutputFormat][] = [
    ["Qwen3", QWEN3_CHAT_TEMPLATE, { reasoning: THINK, toolCalls: "hermes" }],
    ["Llama 3 (JSON calls without tags: not parsed)", LLAMA3_CHAT_TEMPLATE, {}],
    [
      "Qwen2.5 style: tool calls, no thinking",
      `{{- '<tool_call>\\n{"name": "' + tool_call.name }}`,
      { toolCalls: "hermes" },
    ],
    [
      "Qwen3-Coder, escaped newline",
      `{{- '\\n<tool_call>\\n<function=' + tool_call.name + '>\\n' }}`,
      { toolCalls: "qwen3_coder" },
    ],
    ["Qwen3-Coder, literal newline", "<tool_call>\n<function=x>", { toolCalls: "qwen3_coder" }],
    [
      "DeepSeek-R1 style: thinking only",
      "{{'<｜Assistant｜><think>\\n'}}{% set content = content.split('</think>')[-1] %}",
      { reasoning: THINK },
    ],
    [
      "other thinking markers",
      "<|think:start|> … <|think:end|>",
      { reasoning: { start: "<|think:start|>", end: "<|think:end|>" } },
    ],
    ["a start marker alone is not enough", "<think>", {}],
    ["plain ChatML", "{{ '<|im_start|>' + message.role }}", {}],
  ];
  for (const [name, source, expected] of table) {
    test(name, () => expect(detectOutputFormat(source)).toEqual(expected));
  }
});

describe("promptOpensReasoning", () => {
  const table: [string, OutputFormat, boolean][] = [
    ["<|im_start|>assistant\n<think>\n", { reasoning: THINK }, true],
    ["<｜Assistant｜><think>", { reasoning: THINK }, true],
    ["<|im_start|>assistant\n", { reasoning: THINK }, false],
    ["<|im_start|>assistant\n<think>\n\n</think>\n\n", { reasoning: THINK }, false],
    ["<think>old</think><|im_start|>user\nSay <think><|im_end|>\n<|im_start|>assistant\n", { reasoning: THINK }, false],
    ["<|im_start|>assistant\n<think>\n", {}, false],
  ];
  for (const [prompt, format, expected] of table) {
    test(JSON.stringify(prompt), () => expect(promptOpensReasoning(prompt, format)).toBe(expected));
  }
});

describe("OutputParser", () => {
  const cases: {
    name: string;
    format: OutputFormat;
    start?: boolean;
    tools?: unknown[];
    text: string;
    expected: Item[];
  }[] = [
    {
      name: "reasoning, content and a call",
      format: { reasoning: THINK, toolCalls: "hermes" },
      tools: TOOLS,
      text: `<think>\nI need f.\n</think>\n\nCalling f.\n${CALL}`,
      expected: [
        ["reasoning", "I need f."],
        ["content", "Calling f."],
        ["call", 0, "f", '{"n":1}'],
      ],
    },
    {
      name: "a call written inside the reasoning is not parsed",
      format: { reasoning: THINK, toolCalls: "hermes" },
      tools: TOOLS,
      text: `<think>\nMaybe ${CALL}?\n</think>\n\n${CALL}`,
      expected: [
        ["reasoning", `Maybe ${CALL}?`],
        ["call", 0, "f", '{"n":1}'],
      ],
    },
    {
      name: "no tools in the request: calls are content",
      format: { reasoning: THINK, toolCalls: "hermes" },
      text: `<think>x</think>\n${CALL}`,
      expected: [
        ["reasoning", "x"],
        ["content", CALL],
      ],
    },
    {
      name: "no reasoning markers in the format: think tags are content",
      format: { toolCalls: "hermes" },
      tools: TOOLS,
      text: `<think>x</think>${CALL}`,
      expected: [
        ["content", "<think>x</think>"],
        ["call", 0, "f", '{"n":1}'],
      ],
    },
    {
      name: "prompt opened the reasoning",
      format: { reasoning: THINK, toolCalls: "qwen3_coder" },
      start: true,
      tools: TOOLS,
      text: "Think.\n</think>\n\n<tool_call>\n<function=f>\n<parameter=n>\n7\n</parameter>\n</function>\n</tool_call>",
      expected: [
        ["reasoning", "Think."],
        ["call", 0, "f", '{"n":7}'],
      ],
    },
    {
      name: "reasoning cut by max_tokens",
      format: { reasoning: THINK, toolCalls: "hermes" },
      tools: TOOLS,
      text: "<think>\nStill thinking <tool_ca",
      expected: [["reasoning", "Still thinking <tool_ca"]],
    },
    {
      name: "empty format: everything is content",
      format: {},
      tools: TOOLS,
      text: `<think>x</think>${CALL}`,
      expected: [["content", `<think>x</think>${CALL}`]],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expectStable(() => new OutputParser(c.format, { startInReasoning: c.start, tools: c.tools }), c.text, c.expected);
    });
  }

  test("toolCallCount, empty pieces, and no empty deltas", () => {
    const p = new OutputParser({ reasoning: THINK, toolCalls: "hermes" }, { tools: TOOLS });
    expect(p.push("")).toEqual([]);
    expect(p.push("<think>\n")).toEqual([]);
    expect(p.push("a</think>\n\n")).toEqual([{ reasoning_content: "a" }]);
    expect(p.toolCallCount).toBe(0);
    const out = [...p.push(`${CALL}\n${CALL}`), ...p.flush()];
    expect(out).toHaveLength(1);
    expect(out[0]!.tool_calls!.map((c) => c.index)).toEqual([0, 1]);
    expect(p.toolCallCount).toBe(2);
  });

  test("without tools the count stays 0", () => {
    const p = new OutputParser({ toolCalls: "hermes" }, { tools: [] });
    feed(p, [CALL]);
    expect(p.toolCallCount).toBe(0);
  });
});
