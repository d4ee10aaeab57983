/**
 * Any client dialect reaches the local MLX engine: the openai SDK (chat completions, Responses) and the Anthropic SDK
 * (Messages, through translation), stream and non-stream, on a scripted Qwen3 model whose greedy output plays the
 * weather conversation (test/helpers/paths.ts WEATHER): turn 1 thinks and calls `get_weather`, turn 2 answers from
 * the tool result.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { WEATHER, WEATHER_SCRIPTS, makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { DIALECTS } from "./clients.ts";

let ithaca: RunningIthaca;

beforeAll(async () => {
  ithaca = await startIthaca({
    models: [{ id: "weather", path: makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS }) }],
  });
}, 60_000);
afterAll(() => ithaca?.close());

const cases = Object.keys(DIALECTS).flatMap((dialect) =>
  [false, true].map((stream) => ({ dialect: dialect as keyof typeof DIALECTS, stream })),
);

describe("local MLX model", () => {
  test.each(cases)(
    "$dialect, stream $stream: thinking, a tool call, then the answer from its result",
    async ({ dialect, stream }) => {
      const ask = DIALECTS[dialect];
      const first = await ask(ithaca, "weather", { thinking: true, stream, maxTokens: 100 });
      expect(first).toEqual({
        reasoning: WEATHER.think,
        text: "",
        toolCalls: [{ id: expect.any(String), name: "get_weather", input: { city: "Paris" } }],
        stop: "tool",
      });
      const call = first.toolCalls[0]!;
      const second = await ask(ithaca, "weather", {
        thinking: false,
        stream,
        maxTokens: 100,
        toolResult: { call, content: "22°C, sunny" },
      });
      expect(second).toEqual({ reasoning: "", text: WEATHER.answer, toolCalls: [], stop: "end" });
    },
  );
});
