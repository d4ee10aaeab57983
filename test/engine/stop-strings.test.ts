/**
 * The stop-string matcher: text held back while it could start a stop string, the text before a match, and which
 * stop string it reports as matched (the one starting first; at the same start, the one listed first).
 */
import { describe, expect, test } from "bun:test";
import { StopMatcher } from "../../src/engine/stop-strings.ts";

/** Pushes deltas in order; returns the emitted text and the first stop string reported. */
function run(stops: string[], deltas: string[]): { text: string; stop?: string; tail: string } {
  const m = new StopMatcher(stops);
  let text = "";
  for (const d of deltas) {
    const r = m.push(d);
    text += r.text;
    if (r.stop !== undefined) return { text, stop: r.stop, tail: "" };
  }
  return { text, tail: m.flush() };
}

describe("StopMatcher", () => {
  test("no stop strings: every delta passes through, nothing is reported", () => {
    const m = new StopMatcher([]);
    expect(m.push("It is sunny")).toEqual({ text: "It is sunny" });
  });

  test("reports the matched stop string and returns only the text before it", () => {
    expect(run(["sunny"], ["It is sunny in Paris."])).toEqual({ text: "It is ", stop: "sunny", tail: "" });
  });

  test("a stop string split across deltas is held back, then reported", () => {
    const m = new StopMatcher([" in Paris"]);
    expect(m.push("It is sunny in")).toEqual({ text: "It is sunny" });
    expect(m.push(" Pa")).toEqual({ text: "" });
    expect(m.push("ris.")).toEqual({ text: "", stop: " in Paris" });
  });

  test("a held-back prefix that turns out not to be a stop string is released", () => {
    expect(run(["sunny"], ["It is sun", "day."])).toEqual({ text: "It is sunday.", tail: "" });
    const m = new StopMatcher(["sunny"]);
    expect(m.push("It is sun")).toEqual({ text: "It is " });
    expect(m.flush()).toBe("sun");
  });

  test("the match starting first wins, whatever the list order", () => {
    expect(run(["Paris", "sunny"], ["It is sunny in Paris."])).toEqual({ text: "It is ", stop: "sunny", tail: "" });
  });

  test("at the same start, the stop string listed first is reported", () => {
    expect(run(["sun", "sunny"], ["It is sunny."])).toEqual({ text: "It is ", stop: "sun", tail: "" });
    expect(run(["sunny", "sun"], ["It is sunny."])).toEqual({ text: "It is ", stop: "sunny", tail: "" });
  });

  test("empty stop strings are ignored", () => {
    expect(run(["", "Paris"], ["It is sunny in Paris."])).toEqual({ text: "It is sunny in ", stop: "Paris", tail: "" });
  });
});
