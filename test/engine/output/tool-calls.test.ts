/**
 * Tool-call extraction: Hermes JSON and Qwen3-Coder XML bodies (table of answers, each also fed in every cut),
 * parallel calls, malformed blocks kept as content, unclosed blocks at the end, Qwen3-Coder value conversion.
 */
import { describe, expect, test } from "bun:test";
import { convertParameter, parseJsonLenient } from "../../../src/engine/output/qwen3-coder.ts";
import { newToolCallId, ToolCallParser, type ToolCallFormat } from "../../../src/engine/output/tool-calls.ts";
import { expectStable, type Item } from "./streaming.ts";

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string" },
          days: { type: "integer" },
          temp: { type: "number" },
          metric: { type: "boolean" },
          options: { type: "object" },
          tags: { type: "array", items: { type: "string" } },
          limit: { type: ["integer", "null"] },
          extra: { description: "no type" },
        },
      },
    },
  },
  { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
];

const hermes = (name: string, args: string) => `<tool_call>\n{"name": "${name}", "arguments": ${args}}\n</tool_call>`;
const WEATHER = hermes("get_weather", '{"city": "Paris", "days": 2}');

const cases: { name: string; format?: ToolCallFormat; text: string; expected: Item[] }[] = [
  { name: "plain content", text: "No tools needed.", expected: [["content", "No tools needed."]] },
  { name: "one Hermes call", text: WEATHER, expected: [["call", 0, "get_weather", '{"city":"Paris","days":2}']] },
  {
    name: "text then parallel calls (whitespace around calls dropped)",
    text: `Let me check.\n\n${WEATHER}\n${hermes("now", "{}")}\n`,
    expected: [
      ["content", "Let me check."],
      ["call", 0, "get_weather", '{"city":"Paris","days":2}'],
      ["call", 1, "now", "{}"],
    ],
  },
  {
    name: "text between and after calls stays content",
    text: `A ${hermes("now", "{}")} B\n${hermes("now", '{"x": 1}')} C `,
    expected: [
      ["content", "A"],
      ["call", 0, "now", "{}"],
      ["content", "B"],
      ["call", 1, "now", '{"x":1}'],
      ["content", "C "],
    ],
  },
  {
    name: "malformed JSON is content, whitespace included",
    text: "x\n<tool_call>\n{bad}\n</tool_call>\ny",
    expected: [["content", "x\n<tool_call>\n{bad}\n</tool_call>\ny"]],
  },
  {
    name: "a call without a name is content",
    text: '<tool_call>{"arguments": {}}</tool_call>',
    expected: [["content", '<tool_call>{"arguments": {}}</tool_call>']],
  },
  {
    name: "arguments that are not an object make the block content",
    text: '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
    expected: [["content", '<tool_call>{"name": "f", "arguments": [1]}</tool_call>']],
  },
  {
    name: "malformed block then a good one",
    text: `<tool_call>oops</tool_call>${hermes("now", "{}")}`,
    expected: [
      ["content", "<tool_call>oops</tool_call>"],
      ["call", 0, "now", "{}"],
    ],
  },
  {
    name: "double-encoded arguments",
    text: '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>',
    expected: [["call", 0, "f", '{"a":1}']],
  },
  { name: "no arguments", text: '<tool_call>{"name": "now"}</tool_call>', expected: [["call", 0, "now", "{}"]] },
  {
    name: "Llama-style parameters",
    text: '<tool_call>{"name": "f", "parameters": {"a": true}}</tool_call>',
    expected: [["call", 0, "f", '{"a":true}']],
  },
  {
    name: "a list of calls in one block",
    text: '<tool_call>[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"k": null}}]</tool_call>',
    expected: [
      ["call", 0, "a", "{}"],
      ["call", 1, "b", '{"k":null}'],
    ],
  },
  {
    name: "non-ASCII arguments",
    text: hermes("f", '{"q": "café ☕ 🤖", "n": -1.5e3}'),
    expected: [["call", 0, "f", '{"q":"café ☕ 🤖","n":-1500}']],
  },
  {
    name: "unclosed but complete call at the end",
    text: 'Sure.\n<tool_call>\n{"name": "now", "arguments": {}}\n',
    expected: [
      ["content", "Sure."],
      ["call", 0, "now", "{}"],
    ],
  },
  {
    name: "unclosed truncated call at the end is content",
    text: 'Sure.\n<tool_call>\n{"name": "now", "argu',
    expected: [["content", 'Sure.\n<tool_call>\n{"name": "now", "argu']],
  },
  { name: "partial tag at the end", text: "Hello <tool_", expected: [["content", "Hello <tool_"]] },
  {
    name: "look-alike tag",
    text: "<tool_calls> x </tool_call>",
    expected: [["content", "<tool_calls> x </tool_call>"]],
  },
  { name: "only whitespace after a call", text: `${hermes("now", "{}")}\n\n  `, expected: [["call", 0, "now", "{}"]] },
  // Qwen3-Coder XML
  {
    name: "Qwen3-Coder call with typed values",
    format: "qwen3_coder",
    text:
      "I'll look.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nNew York\n</parameter>\n" +
      "<parameter=days>\n3\n</parameter>\n<parameter=temp>\n21.5\n</parameter>\n<parameter=metric>\nTrue\n</parameter>\n" +
      '<parameter=options>\n{"unit": "C", "hourly": [1, 2]}\n</parameter>\n<parameter=tags>\n["a", "b"]\n</parameter>\n' +
      "<parameter=limit>\nnull\n</parameter>\n<parameter=extra>\n[1]\n</parameter>\n<parameter=undeclared>\n42\n</parameter>\n" +
      "</function>\n</tool_call>",
    expected: [
      ["content", "I'll look."],
      [
        "call",
        0,
        "get_weather",
        '{"city":"New York","days":3,"temp":21.5,"metric":true,"options":{"unit":"C","hourly":[1,2]},"tags":["a","b"],"limit":null,"extra":[1],"undeclared":"42"}',
      ],
    ],
  },
  {
    name: "Qwen3-Coder multi-line string and unconvertible values",
    format: "qwen3_coder",
    text:
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nline 1\n\nline 3\n</parameter>\n<parameter=days>\n2.5\n</parameter>\n" +
      "<parameter=temp>\nwarm\n</parameter>\n<parameter=options>\n{'a': 1}\n</parameter>\n<parameter=limit>\n7\n</parameter>\n</function>\n</tool_call>",
    expected: [
      [
        "call",
        0,
        "get_weather",
        '{"city":"line 1\\n\\nline 3","days":"2.5","temp":"warm","options":"{\'a\': 1}","limit":7}',
      ],
    ],
  },
  {
    name: "Qwen3-Coder parallel calls, one without parameters",
    format: "qwen3_coder",
    text: "<tool_call>\n<function=now>\n</function>\n</tool_call>\n<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>",
    expected: [
      ["call", 0, "now", "{}"],
      ["call", 1, "get_weather", '{"city":"Oslo"}'],
    ],
  },
  {
    name: "Qwen3-Coder block without </function> but closed",
    format: "qwen3_coder",
    text: "<tool_call>\n<function=get_weather>\n<parameter=days>\n1\n</parameter>\n</tool_call>",
    expected: [["call", 0, "get_weather", '{"days":1}']],
  },
  {
    name: "Qwen3-Coder complete block at the end without </tool_call>",
    format: "qwen3_coder",
    text: "<tool_call>\n<function=now>\n</function>\n",
    expected: [["call", 0, "now", "{}"]],
  },
  {
    name: "Qwen3-Coder truncated block at the end is content",
    format: "qwen3_coder",
    text: "<tool_call>\n<function=get_weather>\n<parameter=city>\nOs",
    expected: [["content", "<tool_call>\n<function=get_weather>\n<parameter=city>\nOs"]],
  },
  {
    name: "Qwen3-Coder block with a bad function name is content",
    format: "qwen3_coder",
    text: "<tool_call>\n<function=>\n</function>\n</tool_call>",
    expected: [["content", "<tool_call>\n<function=>\n</function>\n</tool_call>"]],
  },
  {
    name: "a Hermes body under a Qwen3-Coder template is still a call",
    format: "qwen3_coder",
    text: hermes("now", "{}"),
    expected: [["call", 0, "now", "{}"]],
  },
  {
    name: "an XML body under a Hermes template is still a call",
    text: "<tool_call>\n<function=now>\n</function>\n</tool_call>",
    expected: [["call", 0, "now", "{}"]],
  },
];

describe("ToolCallParser", () => {
  for (const c of cases) {
    test(c.name, () => {
      expectStable(() => new ToolCallParser(c.format ?? "hermes", TOOLS), c.text, c.expected);
    });
  }

  test("each call is emitted whole when its closing tag arrives; count and ids", () => {
    const p = new ToolCallParser("hermes", TOOLS);
    expect(p.push("Hi\n<tool_")).toEqual([{ content: "Hi" }]);
    expect(p.push('call>\n{"name": "now", "argum')).toEqual([]);
    expect(p.push('ents": {}}\n</tool_call>\n')).toMatchObject([
      { tool_calls: [{ index: 0, type: "function", function: { name: "now", arguments: "{}" } }] },
    ]);
    expect(p.toolCallCount).toBe(1);
    const [a] = p.push(`${hermes("now", "{}")}`);
    expect(a!.tool_calls![0]!.index).toBe(1);
    expect(p.flush()).toEqual([]);
    expect(p.toolCallCount).toBe(2);
  });

  test("ids are call_ + 24 alphanumerics and differ", () => {
    const ids = new Set(Array.from({ length: 200 }, newToolCallId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });
});

describe("Qwen3-Coder value conversion", () => {
  const table: [string, unknown, unknown][] = [
    ["null", { type: "string" }, null],
    ["NULL", undefined, null],
    ["5", undefined, "5"],
    ["5", { type: "string" }, "5"],
    ["5", { type: "integer" }, 5],
    ["-7", { type: "int64" }, -7],
    ["5.0", { type: "integer" }, 5],
    ["5.5", { type: "integer" }, "5.5"],
    ["", { type: "integer" }, ""],
    ["2", { type: "number" }, 2],
    ["2.25", { type: "float" }, 2.25],
    ["1e400", { type: "number" }, "1e400"],
    ["true", { type: "boolean" }, true],
    ["False", { type: "boolean" }, false],
    ["yes", { type: "boolean" }, false],
    ['{"a": [1]}', { type: "object" }, { a: [1] }],
    ["[1, 2]", { type: "array" }, [1, 2]],
    ["not json", { type: "object" }, "not json"],
    ['{"code": "a\nb"}', { type: "object" }, { code: "a\nb" }],
    ['{"a": 1}', { description: "untyped" }, { a: 1 }],
    ["42", { description: "untyped" }, "42"],
    ["3", { type: ["integer", "null"] }, 3],
    ["red", { type: "string", enum: ["red"] }, "red"],
  ];
  for (const [value, schema, expected] of table) {
    test(`${JSON.stringify(value)} as ${JSON.stringify(schema)}`, () => {
      expect(convertParameter(value, schema)).toEqual(expected);
    });
  }

  test("lenient JSON: raw control characters inside strings only", () => {
    expect(parseJsonLenient('{"a": "x\ty\n"}\n')).toEqual({ a: "x\ty\n" });
    expect(parseJsonLenient('["\\"\n"]')).toEqual(['"\n']);
    expect(() => parseJsonLenient("{a: 1}")).toThrow();
  });
});
