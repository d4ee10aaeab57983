/** The `<think>` splitter: table of answers (whole text and every cut of it), custom markers, held-back markers. */
import { describe, expect, test } from "bun:test";
import { ReasoningParser, type ReasoningMarkers } from "../../../src/engine/output/reasoning.ts";
import { expectStable, feed, items, type Item } from "./streaming.ts";

const THINK: ReasoningMarkers = { start: "<think>", end: "</think>" };

const cases: { name: string; text: string; start?: boolean; expected: Item[] }[] = [
  {
    name: "Qwen3 answer: newlines inside the markers and after the end dropped",
    text: "<think>\nLet me think.\nStep 2.\n</think>\n\nThe answer.",
    expected: [
      ["reasoning", "Let me think.\nStep 2."],
      ["content", "The answer."],
    ],
  },
  { name: "no reasoning", text: "Hello there", expected: [["content", "Hello there"]] },
  { name: "empty answer", text: "", expected: [] },
  { name: "whitespace-only answer kept", text: " \n\n", expected: [["content", " \n\n"]] },
  {
    name: "whitespace before the start marker dropped",
    text: " \n<think>x</think>y",
    expected: [
      ["reasoning", "x"],
      ["content", "y"],
    ],
  },
  {
    name: "start marker after text is content",
    text: "Hi <think>x</think>",
    expected: [["content", "Hi <think>x</think>"]],
  },
  {
    name: "one block only: later markers are content",
    text: "<think>a</think>b<think>c</think>",
    expected: [
      ["reasoning", "a"],
      ["content", "b<think>c</think>"],
    ],
  },
  { name: "unclosed block stays reasoning", text: "<think>\nunfinished\n", expected: [["reasoning", "unfinished\n"]] },
  { name: "cut inside the end marker", text: "<think>a\n\n</thi", expected: [["reasoning", "a\n\n</thi"]] },
  { name: "text that starts like the marker", text: "<thinking>x", expected: [["content", "<thinking>x"]] },
  { name: "only a marker prefix", text: "<th", expected: [["content", "<th"]] },
  {
    name: "marker-like text inside reasoning",
    text: "<think>a < b </thinker> c</think>d",
    expected: [
      ["reasoning", "a < b </thinker> c"],
      ["content", "d"],
    ],
  },
  { name: "empty block", text: "<think></think>", expected: [] },
  {
    name: "empty Qwen3 block then content",
    text: "<think>\n\n</think>\n\nContent\n",
    expected: [["content", "Content\n"]],
  },
  { name: "newlines inside reasoning kept", text: "<think>a\n\nb\n</think>", expected: [["reasoning", "a\n\nb"]] },
  {
    name: "spaces around reasoning kept",
    text: "<think> a </think> b",
    expected: [
      ["reasoning", " a "],
      ["content", " b"],
    ],
  },
  {
    name: "multi-byte text",
    text: "<think>\nDéjà vu 🤔\n</think>\n\nCafé ☕",
    expected: [
      ["reasoning", "Déjà vu 🤔"],
      ["content", "Café ☕"],
    ],
  },
  // The prompt already opened the block (Qwen3 thinking templates, DeepSeek-R1).
  {
    name: "starts in reasoning",
    start: true,
    text: "\nReasoning.\n</think>\n\nAnswer",
    expected: [
      ["reasoning", "Reasoning."],
      ["content", "Answer"],
    ],
  },
  { name: "starts in reasoning, never closed", start: true, text: "\nno end", expected: [["reasoning", "no end"]] },
  {
    name: "starts in reasoning, closes at once",
    start: true,
    text: "</think>answer",
    expected: [["content", "answer"]],
  },
  {
    name: "start marker inside reasoning is text",
    start: true,
    text: "<think>x</think>y",
    expected: [
      ["reasoning", "<think>x"],
      ["content", "y"],
    ],
  },
];

describe("ReasoningParser", () => {
  for (const c of cases) {
    test(c.name, () => {
      expectStable(() => new ReasoningParser(THINK, { startInReasoning: c.start }), c.text, c.expected);
    });
  }

  test("dropRepeatedStart: a start marker opening a pre-opened block is dropped (Telemak's ThinkRepair)", () => {
    const parser = () => new ReasoningParser(THINK, { startInReasoning: true, dropRepeatedStart: true });
    expectStable(parser, "<think>\nx\n</think>\n\ny", [
      ["reasoning", "x"],
      ["content", "y"],
    ]);
    expectStable(parser, "x</think>y", [
      ["reasoning", "x"],
      ["content", "y"],
    ]);
    expectStable(parser, "<thin", [["reasoning", "<thin"]]);
  });

  test("custom markers", () => {
    const m = { start: "<|think:start|>", end: "<|think:end|>" };
    expectStable(() => new ReasoningParser(m), "<|think:start|>\na\n<|think:end|>\nb", [
      ["reasoning", "a"],
      ["content", "b"],
    ]);
  });

  test("a marker split across pieces is never leaked", () => {
    const p = new ReasoningParser(THINK);
    expect(p.push("<th")).toEqual([]);
    expect(p.push("ink>\nabc")).toEqual([{ reasoning_content: "abc" }]);
    expect(p.inReasoning).toBe(true);
    expect(p.push("\n</th")).toEqual([]);
    expect(p.push("ink>\n\nHello")).toEqual([{ content: "Hello" }]);
    expect(p.flush()).toEqual([]);
  });

  test("text that starts like a marker is released as soon as it cannot be one", () => {
    const p = new ReasoningParser(THINK, { startInReasoning: true });
    expect(p.push("a </")).toEqual([{ reasoning_content: "a " }]);
    expect(p.push("b")).toEqual([{ reasoning_content: "</b" }]);
    const q = new ReasoningParser(THINK);
    expect(q.push("<")).toEqual([]);
    expect(q.push("b>")).toEqual([{ content: "<b>" }]);
  });

  test("nothing is lost but the markers and the newlines next to them", () => {
    const text = "<think>\nx < y\n\n</think>\n\nz <think>\n";
    const out = items(feed(new ReasoningParser(THINK), [text]));
    expect(out.map((i) => i[1]).join("")).toBe("x < yz <think>\n");
  });

  test("empty markers are refused", () => {
    expect(() => new ReasoningParser({ start: "", end: "</think>" })).toThrow();
  });
});
