/**
 * Shared fixtures of the scripts/make-model tests (test/make-model/*.test.ts): the models they generate, the texts and
 * conversations they feed to both tokenizer and template implementations, and one Python subprocess per test file
 * that runs the real consumers of the files: mlx-lm (load + greedy generation, and `quantize_model` — what
 * `mlx_lm.convert -q` runs — as the reference for quantized output) and transformers' AutoTokenizer and chat
 * templating. The JS side (`@huggingface/tokenizers`, `@huggingface/jinja`) is what the engine uses.
 */
import { afterAll, beforeAll } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import type { Arch } from "../../scripts/make-model/architectures.ts";
import { makeModel } from "../../scripts/make-model/model.ts";
import { parseQuantOverride } from "../../scripts/make-model/quantize.ts";
import { Rng } from "../../scripts/make-model/random.ts";
import { BUN, PYTHON, REPO, tempDir } from "../helpers/paths.ts";

/** The architectures every per-architecture test runs on. */
export const ARCHS: Arch[] = ["qwen3", "llama", "qwen2", "mistral"];
/** Tokens mlx-lm generates greedily from each model. */
export const GEN_TOKENS = 16;

const TEXTS: Record<Arch, string[]> = {
  qwen3: [
    "<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nsimple\n</think>\n\n4<|im_end|><|endoftext|>",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_response>\nsunny\n</tool_response>',
  ],
  llama: [
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|python_tag|>print(1)<|eot_id|><|end_of_text|>",
  ],
  qwen2: [
    "<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|><|endoftext|>",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
  ],
  mistral: [
    "<s>[INST] Hi there![/INST] Hello!</s>",
    '[AVAILABLE_TOOLS] [{"name": "x"}][/AVAILABLE_TOOLS][TOOL_CALLS] [{"name": "x", "arguments": {}}]</s>[TOOL_RESULTS] {"content": 1}[/TOOL_RESULTS]',
  ],
};
const COMMON_TEXTS = [
  "Hello, world! This is a test.",
  "The quick brown fox jumps over the lazy dog's back; it's 2025-01-31 and there are 1234567 items.",
  "I'LL be there, you're right, we've done it, he'd go, THEY'RE here.",
  "Café crème, naïve façade — 你好，世界！ Привет 🙂🚀 👩‍💻 ½ ∑ x² “quoted” …",
  'def add(a, b):\n    return a + b\n\nconst x = {"k": [1, 2, 3]};\t// tab\r\nif (x) { y(); }',
  "  leading and trailing   \n\n\n   indented\n\t\n",
  "",
  ...fuzzTexts(24),
];

/** Deterministic mixed strings: corpus-like words, digits, punctuation, odd whitespace, accents, CJK, emoji. */
function fuzzTexts(n: number): string[] {
  const rng = new Rng(2024);
  const pieces = [
    "the",
    " the",
    "The",
    " sea",
    "island",
    " tokens",
    "function",
    "(x)",
    " => ",
    "{",
    "}",
    "[1, 2]",
    "'s",
    "'LL",
    " don't",
    "12345",
    "3.14",
    " 2025",
    "\n",
    "\n\n",
    "\t",
    "   ",
    " \r\n",
    "é",
    "ß",
    "ü",
    "—",
    "…",
    "你好",
    "世界",
    "🙂",
    "🚀",
    "👍🏽",
    "Ω",
    "ñ",
    "$",
    "%",
    "#",
    "@",
    "<",
    ">",
    "|",
    "<|",
    "|>",
    "</",
    "\\",
    '"',
    "'",
    "`",
    "~",
    "^",
    "_",
    "-",
    "\u00a0",
    "\u200b",
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = "";
    const len = 3 + (rng.nextU32() % 25);
    for (let j = 0; j < len; j++) s += pieces[rng.nextU32() % pieces.length]!;
    out.push(s);
  }
  return out;
}

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Get the current weather in a city",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string", description: "City name" },
          unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        },
        required: ["city"],
      },
    },
  },
  {
    type: "function",
    function: { name: "get_time", description: "Current time (UTC)", parameters: { type: "object", properties: {} } },
  },
];

/** A chat rendered by both template engines: transformers' apply_chat_template and @huggingface/jinja. */
export interface Conversation {
  name: string;
  messages: Array<Record<string, unknown>>;
  tools?: unknown[];
  addGenerationPrompt?: boolean;
  kwargs?: Record<string, unknown>;
}

/** A system prompt and a user turn; also the prompt mlx-lm generates from. */
export const SYSTEM_USER: Conversation = {
  name: "system+user",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Write a haiku about the sea." },
  ],
};
/** The conversations rendered for each architecture. */
export const CONVERSATIONS: Record<Arch, Conversation[]> = {
  qwen3: [],
  llama: [],
  qwen2: [],
  mistral: [],
};
const COMMON_CONVERSATIONS: Conversation[] = [
  SYSTEM_USER,
  {
    name: "multi-turn",
    messages: [
      { role: "system", content: "  You are terse.  " },
      { role: "user", content: "Hi!" },
      { role: "assistant", content: "Hello. How can I help?" },
      { role: "user", content: "Tell me a joke about Ünïcödé 🙂." },
    ],
  },
  {
    name: "user only, no generation prompt",
    messages: [{ role: "user", content: "Just this." }],
    addGenerationPrompt: false,
  },
  {
    name: "tool call and result",
    tools: TOOLS,
    messages: [
      { role: "system", content: "Use tools when needed." },
      { role: "user", content: "What's the weather in Paris and the time?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature": 21, "condition": "sunny"}' },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "call_2", content: "12:00" },
    ],
  },
];
CONVERSATIONS.qwen3.push(
  ...COMMON_CONVERSATIONS,
  { ...SYSTEM_USER, name: "enable_thinking=false", kwargs: { enable_thinking: false } },
  { ...SYSTEM_USER, name: "enable_thinking=true", kwargs: { enable_thinking: true } },
  {
    name: "reasoning in history",
    kwargs: { enable_thinking: true },
    messages: [
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "<think>\nAdd them.\n</think>\n\n4" },
      { role: "user", content: "And 3+3?" },
      { role: "assistant", content: "<think>\nAgain.\n</think>\n\n6" },
    ],
    addGenerationPrompt: false,
  },
  {
    name: "two parallel tool calls",
    tools: TOOLS,
    messages: [
      { role: "user", content: "Weather in Oslo and Rome?" },
      {
        role: "assistant",
        content: "Checking both.",
        tool_calls: [
          { type: "function", function: { name: "get_weather", arguments: { city: "Oslo" } } },
          { type: "function", function: { name: "get_weather", arguments: { city: "Rome" } } },
        ],
      },
      { role: "tool", content: "rain" },
      { role: "tool", content: "sun" },
    ],
  },
);
CONVERSATIONS.qwen2.push(...COMMON_CONVERSATIONS);
CONVERSATIONS.mistral.push(...COMMON_CONVERSATIONS);
CONVERSATIONS.llama.push(
  ...COMMON_CONVERSATIONS,
  { ...COMMON_CONVERSATIONS[3]!, name: "tools in system message", kwargs: { tools_in_user_message: false } },
  { ...SYSTEM_USER, name: "custom date", kwargs: { date_string: "01 Jan 2026" } },
);

/**
 * Runs in the project venv; reads the job from stdin, writes results as JSON to job.out. Per model: mlx-lm loads it and
 * generates (`generate`), transformers encodes and decodes `texts` and renders `conversations`.
 */
const PYTHON_CHECKS = `
import glob, json, sys
from pathlib import Path
import mlx.core as mx
from mlx.utils import tree_flatten, tree_map
from mlx_lm import load, stream_generate
from mlx_lm.utils import load_model, quantize_model
from transformers import AutoTokenizer

def all_weights(d):
    w = {}
    for f in sorted(glob.glob(d + "/model*.safetensors")):
        w.update(mx.load(f))
    return w

def mismatches(ref, ours):
    keys = set(ref) | set(ours)
    return sorted(k for k in keys if k not in ref or k not in ours or ref[k].dtype != ours[k].dtype
                  or ref[k].shape != ours[k].shape or not mx.array_equal(ref[k], ours[k]).item())

job = json.load(sys.stdin)
out = {"models": {}, "dtypes": {}, "quant": {}, "sharded": {}}
for m in job["models"]:
    d = m["dir"]
    hf = AutoTokenizer.from_pretrained(d)
    res = {"encode": [], "encode_plain": [], "decode": [], "decode_skip": [], "render": {}}
    if m["generate"]:
        model, wrapper = load(d)
        prompt_text = hf.apply_chat_template(job["prompt_messages"], tokenize=False, add_generation_prompt=True)
        prompt = hf.encode(prompt_text, add_special_tokens=False)
        eos = sorted(wrapper.eos_token_ids)
        generated = [int(r.token) for r in stream_generate(model, wrapper, prompt, max_tokens=job["gen_tokens"])]
        res.update({"prompt": prompt, "generated": generated, "eos": eos, "vocab_size": len(hf)})
    for text in m["texts"]:
        ids = hf.encode(text)
        plain = hf.encode(text, add_special_tokens=False)
        res["encode"].append(ids)
        res["encode_plain"].append(plain)
        res["decode"].append(hf.decode(plain))
        res["decode_skip"].append(hf.decode(ids, skip_special_tokens=True))
    for c in m["conversations"]:
        res["render"][c["name"]] = hf.apply_chat_template(
            c["messages"], tools=c.get("tools"), tokenize=False,
            add_generation_prompt=c.get("add_generation_prompt", True), **c.get("kwargs", {}))
    out["models"][m["arch"]] = res
for c in job["dtype_checks"]:
    ref = mx.load(c["f32"])
    other = mx.load(c["other"])
    dt = getattr(mx, c["dtype"])
    same = all(other[k].dtype == dt and mx.array_equal(ref[k].astype(dt), other[k]).item() for k in ref)
    model, wrapper = load(c["model_dir"])
    n = len(list(stream_generate(model, wrapper, [1, 2, 3], max_tokens=4)))
    out["dtypes"][c["dtype"]] = {"same": bool(same and set(ref) == set(other)), "generated": n}
# mlx_lm.convert -q on the float model (cast to the target dtype first, as convert does) is the reference.
for c in job["quant_checks"]:
    model, config = load_model(Path(c["float_dir"]))
    dt = getattr(mx, c["dtype"])
    model.update(tree_map(lambda v: v.astype(dt) if mx.issubdtype(v.dtype, mx.floating) else v, model.parameters()))
    ov = c["overrides"]
    def predicate(path, module, ov=ov):
        if path not in ov:
            return True
        return False if ov[path] is False else {"group_size": ov[path]["group_size"], "bits": ov[path]["bits"], "mode": "affine"}
    model, qconfig = quantize_model(model, config, c["group_size"], c["bits"], quant_predicate=predicate)
    ours = all_weights(c["quant_dir"])
    qmodel, wrapper = load(c["quant_dir"])
    n = len(list(stream_generate(qmodel, wrapper, [1, 2, 3], max_tokens=4)))
    out["quant"][c["name"]] = {
        "mismatched": mismatches(dict(tree_flatten(model.parameters())), ours), "n_tensors": len(ours),
        "quantization": qconfig["quantization"], "generated": n,
        "quantized_modules": sorted(k[: -len(".scales")] for k in ours if k.endswith(".scales")),
    }
for c in job["sharded_checks"]:
    model, wrapper = load(c["sharded_dir"])
    n = len(list(stream_generate(model, wrapper, [1, 2, 3], max_tokens=4)))
    out["sharded"][c["name"]] = {"mismatched": mismatches(all_weights(c["single_dir"]), all_weights(c["sharded_dir"])), "generated": n}
with open(job["out"], "w") as f:
    json.dump(out, f)
`;

/** What the Python checks found for one model (`prompt`, `generated`, `eos`, `vocab_size`: only with `generate`). */
export interface PyModelResult {
  prompt: number[];
  generated: number[];
  eos: number[];
  vocab_size: number;
  encode: number[][];
  encode_plain: number[][];
  decode: string[];
  decode_skip: string[];
  render: Record<string, string>;
}
export interface PyResults {
  models: Record<Arch, PyModelResult>;
  dtypes: Record<string, { same: boolean; generated: number }>;
  quant: Record<
    string,
    {
      mismatched: string[];
      n_tensors: number;
      quantization: Record<string, unknown>;
      generated: number;
      quantized_modules: string[];
    }
  >;
  sharded: Record<string, { mismatched: string[]; generated: number }>;
}

/** `--quant-override`s of the 4-bit llama model (`llamaQ4` by the CLI, `llamaQ4Again` by the library). */
export const LLAMA_Q4_OVERRIDES = ["lm_head=8", "model.embed_tokens=6/32", "model.layers.0.mlp.down_proj=float"];

/** The models the tests generate, by name; the value is the directory's name under the fixture's root. */
const MODEL_DIRS = {
  qwen3: "qwen3",
  llama: "llama",
  qwen2: "qwen2",
  mistral: "mistral",
  llamaQ4: "llama-q4",
  llamaQ4Again: "llama-q4-again",
  qwen3Q8: "qwen3-q8",
  qwen2Q4: "qwen2-q4-g128",
  qwen2Sharded: "qwen2-sharded",
  qwen3Again: "qwen3-again",
  qwen3Seed2: "qwen3-seed2",
  qwen3F16: "qwen3-f16",
  qwen3Bf16: "qwen3-bf16",
};
export type ModelName = keyof typeof MODEL_DIRS;

/** Runs `bun scripts/make-model.ts ARGS` (argument parsing + exit status); throws on a non-zero exit. */
function cli(args: string[]): void {
  const r = Bun.spawnSync([BUN, "scripts/make-model.ts", ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`make-model CLI failed: ${r.stderr.toString()}`);
}

/** How each model is made: the CLI for two of them, the library entry point for the rest. */
const BUILDS: Record<ModelName, (out: string) => void> = {
  qwen3: (out) => cli(["--arch", "qwen3", "--out", out, "--seed", "1"]),
  llamaQ4: (out) =>
    cli([
      "--arch",
      "llama",
      "--out",
      out,
      "--seed",
      "1",
      "--bits",
      "4",
      ...LLAMA_Q4_OVERRIDES.flatMap((o) => ["--quant-override", o]),
    ]),
  llama: (out) => makeModel({ arch: "llama", out, seed: 1 }),
  qwen2: (out) => makeModel({ arch: "qwen2", out, seed: 1 }),
  mistral: (out) => makeModel({ arch: "mistral", out, seed: 1 }),
  llamaQ4Again: (out) =>
    makeModel({
      arch: "llama",
      out,
      seed: 1,
      quantization: {
        bits: 4,
        groupSize: 64,
        overrides: Object.fromEntries(LLAMA_Q4_OVERRIDES.map((o) => parseQuantOverride(o, 64))),
      },
    }),
  qwen3Q8: (out) =>
    makeModel({ arch: "qwen3", out, seed: 1, dtype: "bfloat16", quantization: { bits: 8, groupSize: 32 } }),
  qwen2Q4: (out) => makeModel({ arch: "qwen2", out, seed: 1, rope: "yarn", quantization: { bits: 4, groupSize: 128 } }),
  qwen2Sharded: (out) => makeModel({ arch: "qwen2", out, seed: 1, shards: 3 }),
  qwen3Again: (out) => makeModel({ arch: "qwen3", out, seed: 1 }),
  qwen3Seed2: (out) => makeModel({ arch: "qwen3", out, seed: 2 }),
  qwen3F16: (out) => makeModel({ arch: "qwen3", out, seed: 1, dtype: "float16" }),
  qwen3Bf16: (out) => makeModel({ arch: "qwen3", out, seed: 1, dtype: "bfloat16" }),
};

/** The texts both tokenizers encode for `arch`: the common ones, then the architecture's special-token texts. */
export function textsFor(arch: Arch): string[] {
  return [...COMMON_TEXTS, ...TEXTS[arch]];
}

export function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

export function jsTokenizer(dir: string): Tokenizer {
  return new Tokenizer(readJson(join(dir, "tokenizer.json")), readJson(join(dir, "tokenizer_config.json")));
}

/** Renders like transformers' apply_chat_template: special tokens as variables, tools and kwargs passed through. */
export function jsRender(dir: string, c: Conversation): string {
  const cfg = readJson(join(dir, "tokenizer_config.json"));
  const vars: Record<string, unknown> = {
    messages: c.messages,
    add_generation_prompt: c.addGenerationPrompt ?? true,
    bos_token: cfg.bos_token ?? undefined,
    eos_token: cfg.eos_token,
    pad_token: cfg.pad_token,
    ...(c.tools ? { tools: c.tools } : {}),
    ...c.kwargs,
  };
  return new Template(cfg.chat_template as string).render(vars);
}

/** Which Python checks a test file needs; each names the models it reads (they must be among the fixture's). */
export interface PythonChecks {
  /** Per architecture (ARCHS): `generate` (mlx-lm load + greedy generation; `prompt`, `generated`, `eos`, `vocab_size`),
   * `texts` (encode / decode {@link textsFor}), `conversations` (render {@link CONVERSATIONS}). */
  models?: { generate?: boolean; texts?: boolean; conversations?: boolean };
  /** float16 / bfloat16 files against MLX's rounding of float32 (qwen3, qwen3F16, qwen3Bf16). */
  dtypes?: boolean;
  /** mlx-lm's `quantize_model` as the reference (llama, llamaQ4, qwen3, qwen3Q8, qwen2, qwen2Q4). */
  quant?: boolean;
  /** The sharded model against the single file (qwen2, qwen2Sharded). */
  sharded?: boolean;
}

/** Runs {@link PYTHON_CHECKS} on the models in `dirs`. */
function runPythonChecks(root: string, dirs: Record<ModelName, string>, checks: PythonChecks): PyResults {
  const outPath = join(root, "python-results.json");
  const models = checks.models;
  const job = {
    out: outPath,
    gen_tokens: GEN_TOKENS,
    prompt_messages: SYSTEM_USER.messages,
    models: !models
      ? []
      : ARCHS.map((arch) => ({
          arch,
          dir: dirs[arch],
          generate: models.generate ?? false,
          texts: models.texts ? textsFor(arch) : [],
          conversations: !models.conversations
            ? []
            : CONVERSATIONS[arch].map((c) => ({
                name: c.name,
                messages: c.messages,
                tools: c.tools,
                add_generation_prompt: c.addGenerationPrompt ?? true,
                kwargs: c.kwargs ?? {},
              })),
        })),
    dtype_checks: !checks.dtypes
      ? []
      : [
          {
            dtype: "float16",
            f32: join(dirs.qwen3, "model.safetensors"),
            other: join(dirs.qwen3F16, "model.safetensors"),
            model_dir: dirs.qwen3F16,
          },
          {
            dtype: "bfloat16",
            f32: join(dirs.qwen3, "model.safetensors"),
            other: join(dirs.qwen3Bf16, "model.safetensors"),
            model_dir: dirs.qwen3Bf16,
          },
        ],
    quant_checks: !checks.quant
      ? []
      : [
          {
            name: "llama-q4",
            float_dir: dirs.llama,
            quant_dir: dirs.llamaQ4,
            dtype: "float32",
            group_size: 64,
            bits: 4,
            overrides: {
              lm_head: { group_size: 64, bits: 8 },
              "model.embed_tokens": { group_size: 32, bits: 6 },
              "model.layers.0.mlp.down_proj": false,
            },
          },
          {
            name: "qwen3-q8",
            float_dir: dirs.qwen3,
            quant_dir: dirs.qwen3Q8,
            dtype: "bfloat16",
            group_size: 32,
            bits: 8,
            overrides: {},
          },
          {
            name: "qwen2-q4-g128",
            float_dir: dirs.qwen2,
            quant_dir: dirs.qwen2Q4,
            dtype: "float32",
            group_size: 128,
            bits: 4,
            overrides: {},
          },
        ],
    sharded_checks: !checks.sharded ? [] : [{ name: "qwen2", single_dir: dirs.qwen2, sharded_dir: dirs.qwen2Sharded }],
  };
  const r = Bun.spawnSync([PYTHON, "-c", PYTHON_CHECKS], {
    cwd: REPO,
    stdin: new TextEncoder().encode(JSON.stringify(job)),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, TOKENIZERS_PARALLELISM: "false", TRANSFORMERS_VERBOSITY: "error" },
  });
  if (r.exitCode !== 0) throw new Error(`python checks failed (${r.exitCode}):\n${r.stderr.toString()}`);
  return JSON.parse(readFileSync(outPath, "utf8")) as PyResults;
}

/** A test file's models: where they are, and what the Python checks found. */
export interface ModelFixture {
  /** The fixture's temporary directory (removed after the file's tests). */
  root: string;
  /** Every model's directory under `root`; only those named to {@link modelFixture} exist. */
  dirs: Record<ModelName, string>;
  /** Filled in by `beforeAll`: the results of the checks named to {@link modelFixture}. */
  py: PyResults;
}

/**
 * Generates `models` into a fresh temporary directory before the file's tests and runs the Python `checks` on them
 * (one subprocess); removes the directory after them. Register it at the top level of a test file.
 */
export function modelFixture(prefix: string, models: ModelName[], checks?: PythonChecks): ModelFixture {
  const root = tempDir(prefix);
  const dirs = Object.fromEntries(Object.entries(MODEL_DIRS).map(([name, dir]) => [name, join(root, dir)])) as Record<
    ModelName,
    string
  >;
  const py: PyResults = { models: {} as PyResults["models"], dtypes: {}, quant: {}, sharded: {} };
  beforeAll(() => {
    for (const name of models) BUILDS[name](dirs[name]);
    if (checks) Object.assign(py, runPythonChecks(root, dirs, checks));
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  return { root, dirs, py };
}
