/**
 * Scripted models (scripts/make-model/scripted.ts, scripted-weights.ts) are real models: mlx-lm loads the files and its
 * greedy `generate_step` emits exactly the scripted tokens after mlx-lm's own chat-templated prompts (tools, thinking
 * on and off), and Ithaca's engine produces the same prompt ids and tokens. Also: the planner's conflict check, the
 * CLI flags, determinism, and that the scripted behaviour depends on the prompt ending (not a fixed output).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { liveArrays } from "bun-ffi-mlx-bindings";
import { makeModel as generateModel } from "../../scripts/make-model/model.ts";
import { ScriptConflictError, parseScriptArg, parseScriptFile } from "../../scripts/make-model/scripted.ts";
import { ChatTemplate } from "../../src/engine/chat-template.ts";
import { generateTokens } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { normalizeMessages } from "../../src/engine/messages.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Sampler } from "../../src/engine/sampler.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { BUN, REPO, WEATHER, WEATHER_CALL_TEXT, WEATHER_SCRIPTS, makeModel, tempDir } from "../helpers/paths.ts";
import { runMlxLm } from "../engine/mlx-lm-reference.ts";

const MAX_TOKENS = 80;
const USER = { role: "user", content: "What is the weather in Paris?" };
const CALL_TURN = {
  role: "assistant",
  content: "",
  tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }],
};

interface Case {
  name: string;
  messages: unknown[];
  tools?: unknown[];
  enable_thinking?: boolean;
  /** The text the model must emit (decoded, EOS excluded); undefined: anything but a script. */
  expect?: string;
}

const CASES: Case[] = [
  {
    name: "turn 1, tools, thinking on → think + tool call",
    messages: [USER],
    tools: WEATHER.tools,
    expect: WEATHER_CALL_TEXT,
  },
  { name: "turn 1 without tools → the same text", messages: [USER], expect: WEATHER_CALL_TEXT },
  {
    name: "turn 2, tool result in history, thinking off → answer",
    messages: [USER, CALL_TURN, { role: "tool", tool_call_id: "call_1", content: "sunny, 24°C" }],
    tools: WEATHER.tools,
    enable_thinking: false,
    expect: WEATHER.answer,
  },
];

interface Result {
  prompt: number[];
  tokens: number[];
}

function ithacaGreedy(dir: string, c: Case): Result {
  const model = loadModel(dir);
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler({ temperature: 0, top_p: 1 });
  try {
    const tokenizer = new ModelTokenizer(dir, model.config.eosTokenIds);
    const text = new ChatTemplate(tokenizer).render(normalizeMessages(c.messages), {
      tools: c.tools,
      enable_thinking: c.enable_thinking,
    });
    const prompt = tokenizer.encode(text);
    const tokens: number[] = [];
    for (const t of generateTokens(model, caches, sampler, prompt, MAX_TOKENS)) {
      tokens.push(t);
      if (tokenizer.eosTokenIds.has(t)) break;
    }
    return { prompt, tokens };
  } finally {
    freeCaches(caches);
    sampler.free();
    model.free();
  }
}

let dir: string;
let generated: ReturnType<typeof generateModel>;
let reference: Result[];
const base = liveArrays();

beforeAll(() => {
  dir = makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS });
  generated = generateModel({ arch: "qwen3", out: join(tempDir(), "again"), seed: 7, scripts: WEATHER_SCRIPTS });
  const job = {
    model: dir,
    max_tokens: MAX_TOKENS,
    cases: CASES.map((c) => ({
      messages: c.messages,
      tools: c.tools,
      ...(c.enable_thinking === undefined ? {} : { enable_thinking: c.enable_thinking }),
    })),
  };
  reference = runMlxLm("mlx_lm_scripted.py", job);
}, 120_000);

afterAll(() => expect(liveArrays()).toBe(base));

describe("a scripted qwen3 model", () => {
  test("files: untied, unscaled RoPE, small size, same bytes for the same options", () => {
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(config.tie_word_embeddings).toBe(false);
    expect(config.rope_scaling).toBeNull();
    expect(config.hidden_size).toBe(256);
    expect(
      readFileSync(join(generated.dir, "model.safetensors")).equals(readFileSync(join(dir, "model.safetensors"))),
    ).toBe(true);
    const plan = generated.script!.plan;
    expect(plan.order).toBe(3);
    expect(generated.script!.logitMargin).toBeGreaterThan(20);
    expect(generated.script!.attentionMargin).toBeGreaterThanOrEqual(39.9);
    // Each chain ends with <|im_end|>.
    expect(plan.chains.map((ch) => ch.emit.at(-1))).toEqual([
      generated.tokenIds.get("<|im_end|>")!,
      generated.tokenIds.get("<|im_end|>")!,
    ]);
    // The markers are single added tokens of the emitted chain.
    for (const marker of ["<think>", "</think>", "<tool_call>", "</tool_call>"])
      expect(plan.chains[0]!.emit).toContain(generated.tokenIds.get(marker)!);
  });

  describe.each(CASES)("$name", (c) => {
    test("mlx-lm greedy emits exactly the scripted tokens; Ithaca's engine gives the same prompt and tokens", () => {
      const i = CASES.indexOf(c);
      const ref = reference[i]!;
      const tokenizer = new ModelTokenizer(dir, generated.eosTokenIds);
      const chain = generated.script!.plan.chains[c.expect === WEATHER.answer ? 1 : 0]!;
      expect(ref.prompt.slice(-3)).toEqual(chain.start);
      expect(ref.tokens).toEqual(chain.emit);
      expect(tokenizer.decode(ref.tokens.slice(0, -1))).toBe(c.expect!);
      const ours = ithacaGreedy(dir, c);
      expect(ours.prompt).toEqual(ref.prompt);
      expect(ours.tokens).toEqual(ref.tokens);
    });
  });

  test("a prompt that ends otherwise is not answered with a script (the output depends on the context)", () => {
    const model = loadModel(dir);
    const caches = makeCaches(model.config.numLayers);
    const sampler = new Sampler({ temperature: 0, top_p: 1 });
    try {
      const tokenizer = new ModelTokenizer(dir, model.config.eosTokenIds);
      const prompt = tokenizer.encode("<|im_start|>user\nHello<|im_end|>\n<|im_start|>user\n");
      const tokens = [...generateTokens(model, caches, sampler, prompt, 12)];
      const emits = generated.script!.plan.chains.map((ch) => ch.emit.slice(0, 12));
      expect(emits).not.toContainEqual(tokens);
    } finally {
      freeCaches(caches);
      sampler.free();
      model.free();
    }
  });
});

describe("script planning", () => {
  test("order 1 cannot write the Hermes JSON: the conflict names the context and both successors", () => {
    const out = join(tempDir(), "m");
    let err: unknown;
    try {
      generateModel({ arch: "qwen3", out, scripts: WEATHER_SCRIPTS, scriptOrder: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScriptConflictError);
    expect((err as Error).message).toMatch(/after the tokens \[.+\] it must emit .+, but script \d emits .+ there/);
  });

  test('order 2 still conflicts (`": "` opens both "get_weather" and "Paris"); order 3 does not', () => {
    expect(() =>
      generateModel({ arch: "qwen3", out: join(tempDir(), "m"), scripts: WEATHER_SCRIPTS, scriptOrder: 2 }),
    ).toThrow(/it must emit "P", but script 1 emits "get" there .*2-token context/);
  });

  test("too small a model is refused by the float64 check, not written broken", () => {
    expect(() =>
      generateModel({ arch: "qwen3", out: join(tempDir(), "m"), size: "tiny", scripts: WEATHER_SCRIPTS }),
    ).toThrow(/scripted model check failed/);
  });

  test("scripts need unscaled RoPE and no quantization; 'after' must be long enough", () => {
    const out = join(tempDir(), "m");
    expect(() => generateModel({ arch: "qwen3", out, scripts: WEATHER_SCRIPTS, rope: "yarn" })).toThrow(
      /rope 'default'/,
    );
    expect(() =>
      generateModel({ arch: "qwen3", out, scripts: WEATHER_SCRIPTS, quantization: { bits: 4, groupSize: 64 } }),
    ).toThrow(/quantized/);
    expect(() => generateModel({ arch: "qwen3", out, scripts: [{ after: "\n", emit: "x" }] })).toThrow(/at least 3/);
  });

  test("--script escapes and --script-file parsing", () => {
    expect(parseScriptArg("<think>\\n\\n</think>\\n\\n=>a=>b")).toEqual({
      after: "<think>\n\n</think>\n\n",
      emit: "a=>b",
    });
    expect(() => parseScriptArg("no arrow")).toThrow(/AFTER=>EMIT/);
    expect(() => parseScriptFile('[{"after": "x"}]', "f.json")).toThrow(/f.json: entry 0/);
    expect(parseScriptFile(JSON.stringify(WEATHER_SCRIPTS))).toEqual(WEATHER_SCRIPTS);
  });
});

describe("CLI", () => {
  const cli = (args: string[]) =>
    Bun.spawnSync([BUN, join(REPO, "scripts", "make-model.ts"), ...args], {
      cwd: REPO,
      stdout: "pipe",
      stderr: "pipe",
    });

  test("--script and --script-file write the same bytes as the library", () => {
    const tmp = tempDir();
    const file = join(tmp, "scripts.json");
    writeFileSync(file, JSON.stringify(WEATHER_SCRIPTS.slice(1)));
    const escapeArg = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
    const r = cli([
      "--arch",
      "qwen3",
      "--out",
      join(tmp, "cli"),
      "--seed",
      "7",
      "--script",
      `${escapeArg(WEATHER_SCRIPTS[0]!.after)}=>${escapeArg(WEATHER_SCRIPTS[0]!.emit)}`,
      "--script-file",
      file,
    ]);
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("scripted: 58 transitions, order 3");
    expect(
      readFileSync(join(tmp, "cli", "model.safetensors")).equals(readFileSync(join(dir, "model.safetensors"))),
    ).toBe(true);
  });

  test("conflicts and bad flags exit 2 with a message", () => {
    const out = join(tempDir(), "m");
    const r = cli([
      "--arch",
      "qwen3",
      "--out",
      out,
      "--script-order",
      "1",
      "--script",
      "<|im_start|>assistant\\n=>hello\\nworld",
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toMatch(
      /^make-model: script 1 .*"l" would need two successors in the same 1-token context/,
    );
    expect(cli(["--arch", "qwen3", "--out", out, "--script-order", "3"]).exitCode).toBe(2);
    expect(cli(["--arch", "qwen3", "--out", out, "--script", "nope"]).stderr.toString()).toMatch(/AFTER=>EMIT/);
  });
});
