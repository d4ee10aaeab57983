/**
 * OpenAI conversations rendered with Hugging Face chat templates: the Qwen3 template that `scripts/make-model`
 * writes and a Qwen3-Coder-style XML template (test/fixtures/templates/qwen3-coder.jinja), for a multi-turn tool
 * conversation (tools in the system turn, assistant tool calls, grouped tool results). The expected prompts were
 * checked against Python transformers' `apply_chat_template` on the same files. Also: `normalizeMessages`, and a
 * model answer parsed by `OutputParser` and rendered back reproduces the model's text.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ChatTemplate, ChatTemplateError } from "../../src/engine/chat-template.ts";
import { normalizeMessages } from "../../src/engine/messages.ts";
import { detectOutputFormat, OutputParser } from "../../src/engine/output/parser.ts";
import type { OutputDelta } from "../../src/engine/worker-messages.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { makeModel, REPO, tempDir } from "../helpers/paths.ts";

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather for a city.",
      parameters: {
        type: "object",
        properties: { city: { type: "string", description: "City name" }, days: { type: "integer" } },
        required: ["city"],
      },
    },
  },
  {
    type: "function",
    function: { name: "now", description: "The time.", parameters: { type: "object", properties: {} } },
  },
];

const MESSAGES = [
  { role: "system", content: "You are helpful." },
  {
    role: "user",
    content: [
      { type: "text", text: "Weather in " },
      { type: "text", text: "Paris, and the time?" },
    ],
  },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      {
        id: "call_1",
        type: "function",
        function: { name: "get_weather", arguments: '{"city": "Paris", "days": 2, "opts": {"unit": "C"}}' },
      },
      { id: "call_2", type: "function", function: { name: "now", arguments: "{}" } },
    ],
  },
  { role: "tool", tool_call_id: "call_1", content: "Sunny, 21°C" },
  { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "12:00" }] },
  { role: "assistant", content: "Sunny and 21°C; it is noon." },
  { role: "user", content: "Thanks! And Oslo?" },
  {
    role: "assistant",
    content: "Checking.",
    tool_calls: [{ id: "call_3", type: "function", function: { name: "get_weather", arguments: '{"city": "Oslo"}' } }],
  },
  { role: "tool", tool_call_id: "call_3", content: "Rain" },
];

const QWEN3_PROMPT = `<|im_start|>system
You are helpful.

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}, "days": {"type": "integer"}}, "required": ["city"]}}}
{"type": "function", "function": {"name": "now", "description": "The time.", "parameters": {"type": "object", "properties": {}}}}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris, and the time?<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "opts": {"unit": "C"}}}
</tool_call>
<tool_call>
{"name": "now", "arguments": {}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
Sunny, 21°C
</tool_response>
<tool_response>
12:00
</tool_response><|im_end|>
<|im_start|>assistant
Sunny and 21°C; it is noon.<|im_end|>
<|im_start|>user
Thanks! And Oslo?<|im_end|>
<|im_start|>assistant
Checking.
<tool_call>
{"name": "get_weather", "arguments": {"city": "Oslo"}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
Rain
</tool_response><|im_end|>
<|im_start|>assistant
`;

const CODER_PROMPT = `<|im_start|>system
You are helpful.

# Tools

You have access to the following functions:

<tools>
<function>
<name>get_weather</name>
<description>Current weather for a city.</description>
<parameters>
<parameter>
<name>city</name>
<type>string</type>
<description>City name</description>
</parameter>
<parameter>
<name>days</name>
<type>integer</type>
</parameter>
</parameters>
</function>
<function>
<name>now</name>
<description>The time.</description>
<parameters>
</parameters>
</function>
</tools>

If you choose to call a function ONLY reply in the following format with NO suffix:

<tool_call>
<function=example_function_name>
<parameter=example_parameter_1>
value_1
</parameter>
</function>
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris, and the time?<|im_end|>
<|im_start|>assistant
<tool_call>
<function=get_weather>
<parameter=city>
Paris
</parameter>
<parameter=days>
2
</parameter>
<parameter=opts>
{"unit": "C"}
</parameter>
</function>
</tool_call>
<tool_call>
<function=now>
</function>
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
Sunny, 21°C
</tool_response>
<tool_response>
12:00
</tool_response>
<|im_end|>
<|im_start|>assistant
Sunny and 21°C; it is noon.<|im_end|>
<|im_start|>user
Thanks! And Oslo?<|im_end|>
<|im_start|>assistant
Checking.

<tool_call>
<function=get_weather>
<parameter=city>
Oslo
</parameter>
</function>
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
Rain
</tool_response>
<|im_end|>
<|im_start|>assistant
`;

const CODER_SOURCE = readFileSync(join(REPO, "test/fixtures/templates/qwen3-coder.jinja"), "utf8");

function qwen3Template(): ChatTemplate {
  return new ChatTemplate(new ModelTokenizer(makeModel("qwen3")));
}

/** The generated qwen3 tokenizer with `chatTemplate` as its template. */
function templateFrom(chatTemplate: string): ChatTemplate {
  const src = makeModel("qwen3");
  const dir = tempDir();
  copyFileSync(join(src, "tokenizer.json"), join(dir, "tokenizer.json"));
  const config = JSON.parse(readFileSync(join(src, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...config, chat_template: chatTemplate }));
  return new ChatTemplate(new ModelTokenizer(dir));
}

/** An OpenAI assistant message assembled from the parser's deltas. */
function assistantMessage(deltas: OutputDelta[]) {
  const msg = { role: "assistant", content: "", reasoning_content: "", tool_calls: [] as unknown[] };
  for (const d of deltas) {
    msg.content += d.content ?? "";
    msg.reasoning_content += d.reasoning_content ?? "";
    msg.tool_calls.push(...(d.tool_calls ?? []).map(({ index: _, ...call }) => call));
  }
  return msg;
}

describe("chat templates with a tool conversation", () => {
  test("Qwen3 (Hermes JSON calls)", () => {
    const t = qwen3Template();
    expect(t.render(normalizeMessages(MESSAGES), { tools: TOOLS })).toBe(QWEN3_PROMPT);
  });

  test("Qwen3-Coder style (XML calls need arguments as a mapping)", () => {
    const t = templateFrom(CODER_SOURCE);
    expect(t.render(normalizeMessages(MESSAGES), { tools: TOOLS })).toBe(CODER_PROMPT);
    // Unparsed JSON-string arguments cannot be iterated as a mapping.
    expect(() => t.render(MESSAGES, { tools: TOOLS })).toThrow(ChatTemplateError);
  });

  test("source is exposed and the output format detected from it", () => {
    expect(detectOutputFormat(qwen3Template().source)).toEqual({
      reasoning: { start: "<think>", end: "</think>" },
      toolCalls: "hermes",
    });
    expect(detectOutputFormat(templateFrom(CODER_SOURCE).source)).toEqual({ toolCalls: "qwen3_coder" });
  });

  test("a template in chat_template.jinja (recent transformers) is read when the config has none", () => {
    const src = makeModel("qwen3");
    const dir = tempDir();
    copyFileSync(join(src, "tokenizer.json"), join(dir, "tokenizer.json"));
    const { chat_template: _, ...config } = JSON.parse(readFileSync(join(src, "tokenizer_config.json"), "utf8"));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
    writeFileSync(join(dir, "chat_template.jinja"), CODER_SOURCE);
    expect(new ChatTemplate(new ModelTokenizer(dir)).source).toBe(CODER_SOURCE);
  });

  test("no tools: no tools block", () => {
    const t = qwen3Template();
    const prompt = t.render(normalizeMessages([{ role: "user", content: "Hi" }]), { tools: [] });
    expect(prompt).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  });
});

describe("a parsed answer renders back to the model's text", () => {
  const history = [{ role: "user", content: "Weather in Oslo?" }];
  const cases = [
    {
      name: "Qwen3 with reasoning and a call",
      template: qwen3Template,
      answer:
        '<think>\nThe user wants weather.\n</think>\n\nChecking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}\n</tool_call>',
    },
    {
      name: "Qwen3-Coder call",
      template: () => templateFrom(CODER_SOURCE),
      answer:
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n<parameter=days>\n1\n</parameter>\n</function>\n</tool_call>",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const t = c.template();
      const parser = new OutputParser(detectOutputFormat(t.source), { tools: TOOLS });
      const deltas = [...parser.push(c.answer), ...parser.flush()];
      expect(parser.toolCallCount).toBe(1);
      const msg = assistantMessage(deltas);
      const before = t.render(normalizeMessages(history), { tools: TOOLS });
      const after = t.render(
        normalizeMessages([...history, msg, { role: "tool", tool_call_id: "x", content: "Rain" }]),
        { tools: TOOLS },
      );
      expect(after.startsWith(`${before}${c.answer}<|im_end|>\n`)).toBe(true);
    });
  }
});

describe("normalizeMessages", () => {
  test("table", () => {
    const input = [
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "image_url", image_url: { url: "x" } },
          { type: "text", text: "b" },
        ],
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "f", arguments: '{"x": [1, {"y": null}]}' } },
          { id: "c2", type: "function", function: { name: "g", arguments: "" } },
          { id: "c3", type: "function", function: { name: "h", arguments: "not json" } },
          { id: "c4", type: "function", function: { name: "k", arguments: "[1]" } },
          { id: "c5", type: "function", function: { name: "m", arguments: { already: "mapping" } } },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "r1" },
      { role: "tool", tool_call_id: "c2", name: "given", content: "r2" },
      { role: "tool", tool_call_id: "unknown", content: null },
      { role: "assistant", reasoning_content: "think", content: "done" },
    ];
    const frozen = structuredClone(input);
    expect(normalizeMessages(input)).toEqual([
      { role: "user", content: "ab" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { id: "c1", type: "function", function: { name: "f", arguments: { x: [1, { y: null }] } } },
          { id: "c2", type: "function", function: { name: "g", arguments: {} } },
          { id: "c3", type: "function", function: { name: "h", arguments: "not json" } },
          { id: "c4", type: "function", function: { name: "k", arguments: "[1]" } },
          { id: "c5", type: "function", function: { name: "m", arguments: { already: "mapping" } } },
        ],
      },
      { role: "tool", tool_call_id: "c1", name: "f", content: "r1" },
      { role: "tool", tool_call_id: "c2", name: "given", content: "r2" },
      { role: "tool", tool_call_id: "unknown", content: "" },
      { role: "assistant", reasoning_content: "think", content: "done" },
    ]);
    expect(input).toEqual(frozen);
  });
});
