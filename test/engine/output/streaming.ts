/**
 * Test helpers for the streaming output parsers: run a parser over a text cut into pieces, reduce its deltas to a
 * comparable list, and check that every way of cutting the text gives the same result as the whole text at once.
 */
import { expect } from "bun:test";
import type { OutputDelta } from "../../../src/engine/worker-messages.ts";

export interface StreamingParser {
  push(text: string): OutputDelta[];
  flush(): OutputDelta[];
}

/** A delta list reduced for comparison: `["reasoning", text]`, `["content", text]`, `["call", index, name, args]`. */
export type Item = ["reasoning" | "content", string] | ["call", number, string, string];

/** Reduces deltas to items (merging adjacent text of one kind); asserts no delta is empty and ids are well formed. */
export function items(deltas: OutputDelta[]): Item[] {
  const out: Item[] = [];
  for (const d of deltas) {
    const kinds = [d.content, d.reasoning_content, d.tool_calls].filter((v) => v !== undefined);
    expect(kinds.length).toBe(1);
    for (const [kind, text] of [
      ["reasoning", d.reasoning_content],
      ["content", d.content],
    ] as const) {
      if (text === undefined) continue;
      expect(text).not.toBe("");
      const last = out.at(-1);
      if (last && last[0] === kind) last[1] += text;
      else out.push([kind, text]);
    }
    if (d.tool_calls) {
      expect(d.tool_calls.length).toBeGreaterThan(0);
      for (const c of d.tool_calls) {
        expect(c.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
        expect(c.type).toBe("function");
        out.push(["call", c.index, c.function.name, c.function.arguments]);
      }
    }
  }
  return out;
}

/** Feeds `pieces` to a fresh parser, then flushes; returns all deltas in order. */
export function feed(parser: StreamingParser, pieces: string[]): OutputDelta[] {
  const out: OutputDelta[] = [];
  for (const p of pieces) out.push(...parser.push(p));
  out.push(...parser.flush());
  return out;
}

/** Every way to cut `text` in two, plus one character (code point) at a time. */
export function cuts(text: string): string[][] {
  const chars = [...text];
  const out: string[][] = [chars];
  for (let i = 0; i <= chars.length; i++) out.push([chars.slice(0, i).join(""), chars.slice(i).join("")]);
  return out;
}

/**
 * Asserts that the whole text parses to `expected`, and that every cut of it parses to the same items.
 * @returns the whole-text deltas
 */
export function expectStable(make: () => StreamingParser, text: string, expected: Item[]): OutputDelta[] {
  const whole = feed(make(), [text]);
  expect(items(whole)).toEqual(expected);
  for (const pieces of cuts(text)) {
    const got = items(feed(make(), pieces));
    if (!Bun.deepEquals(got, expected)) expect({ pieces, got }).toEqual({ pieces, got: expected });
  }
  return whole;
}
