/**
 * scripts/make-model.ts against the real consumers of its files: mlx-lm (load + greedy generation, and
 * `quantize_model` — what `mlx_lm.convert -q` runs — as the reference for quantized output), transformers'
 * AutoTokenizer and chat templating (Python), `@huggingface/tokenizers` and `@huggingface/jinja` (what the engine
 * uses). All Python checks run in one subprocess.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { ARCH_SPECS, VOCAB_SIZE, type Arch } from "../scripts/make-model/architectures.ts";
import { makeModel } from "../scripts/make-model/model.ts";
import { parseQuantOverride } from "../scripts/make-model/quantize.ts";
import { Rng } from "../scripts/make-model/random.ts";
import {
  DTYPE_BYTES, decodeFloats, encodeFloats, encodeSafetensors, float16BitsToFloat32, float32ToBfloat16Bits,
  float32ToFloat16Bits, parseSafetensors, readSafetensorsFile, shapeSize,
} from "../scripts/make-model/safetensors.ts";
import { BUN, PYTHON, REPO, tempDir } from "./helpers/paths.ts";

const ARCHS: Arch[] = ["qwen3", "llama", "qwen2", "mistral"];
const GEN_TOKENS = 16;

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
    "the", " the", "The", " sea", "island", " tokens", "function", "(x)", " => ", "{", "}", "[1, 2]", "'s", "'LL", " don't",
    "12345", "3.14", " 2025", "\n", "\n\n", "\t", "   ", " \r\n", "é", "ß", "ü", "—", "…", "你好", "世界", "🙂", "🚀", "👍🏽",
    "Ω", "ñ", "$", "%", "#", "@", "<", ">", "|", "<|", "|>", "</", "\\", '"', "'", "`", "~", "^", "_", "-", "\u00a0", "\u200b",
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
        properties: { city: { type: "string", description: "City name" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
        required: ["city"],
      },
    },
  },
  { type: "function", function: { name: "get_time", description: "Current time (UTC)", parameters: { type: "object", properties: {} } } },
];

interface Conversation {
  name: string;
  messages: Array<Record<string, unknown>>;
  tools?: unknown[];
  addGenerationPrompt?: boolean;
  kwargs?: Record<string, unknown>;
}

const SYSTEM_USER: Conversation = {
  name: "system+user",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Write a haiku about the sea." },
  ],
};
const CONVERSATIONS: Record<Arch, Conversation[]> = {
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
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } } },
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

/** Runs in the project venv; reads the job from stdin, writes results as JSON to job.out. */
const PYTHON_CHECKS = String.raw`
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
    model, wrapper = load(d)
    hf = AutoTokenizer.from_pretrained(d)
    prompt_text = hf.apply_chat_template(job["prompt_messages"], tokenize=False, add_generation_prompt=True)
    prompt = hf.encode(prompt_text, add_special_tokens=False)
    eos = sorted(wrapper.eos_token_ids)
    generated = [int(r.token) for r in stream_generate(model, wrapper, prompt, max_tokens=job["gen_tokens"])]
    res = {"prompt": prompt, "generated": generated, "eos": eos, "vocab_size": len(hf), "encode": [], "encode_plain": [], "decode": [], "decode_skip": [], "render": {}}
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

interface PyModelResult {
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
interface PyResults {
  models: Record<Arch, PyModelResult>;
  dtypes: Record<string, { same: boolean; generated: number }>;
  quant: Record<string, { mismatched: string[]; n_tensors: number; quantization: Record<string, unknown>; generated: number; quantized_modules: string[] }>;
  sharded: Record<string, { mismatched: string[]; generated: number }>;
}

const root = tempDir("ithaca-make-model-");
const LLAMA_Q4_OVERRIDES = ["lm_head=8", "model.embed_tokens=6/32", "model.layers.0.mlp.down_proj=float"];
const dirs = {
  qwen3: join(root, "qwen3"),
  llama: join(root, "llama"),
  qwen2: join(root, "qwen2"),
  mistral: join(root, "mistral"),
  llamaQ4: join(root, "llama-q4"),
  llamaQ4Again: join(root, "llama-q4-again"),
  qwen3Q8: join(root, "qwen3-q8"),
  qwen2Q4: join(root, "qwen2-q4-g128"),
  qwen2Sharded: join(root, "qwen2-sharded"),
  qwen3Again: join(root, "qwen3-again"),
  qwen3Seed2: join(root, "qwen3-seed2"),
  qwen3F16: join(root, "qwen3-f16"),
  qwen3Bf16: join(root, "qwen3-bf16"),
};
let py: PyResults;

function textsFor(arch: Arch): string[] {
  return [...COMMON_TEXTS, ...TEXTS[arch]];
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

function jsTokenizer(dir: string): Tokenizer {
  return new Tokenizer(readJson(join(dir, "tokenizer.json")), readJson(join(dir, "tokenizer_config.json")));
}

/** Renders like transformers' apply_chat_template: special tokens as variables, tools and kwargs passed through. */
function jsRender(dir: string, c: Conversation): string {
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

beforeAll(() => {
  // The CLI for two models (argument parsing + exit status), the library entry point for the rest.
  const cli = (args: string[]) => {
    const r = Bun.spawnSync([BUN, "scripts/make-model.ts", ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`make-model CLI failed: ${r.stderr.toString()}`);
  };
  cli(["--arch", "qwen3", "--out", dirs.qwen3, "--seed", "1"]);
  cli(["--arch", "llama", "--out", dirs.llamaQ4, "--seed", "1", "--bits", "4", ...LLAMA_Q4_OVERRIDES.flatMap((o) => ["--quant-override", o])]);
  makeModel({ arch: "llama", out: dirs.llama, seed: 1 });
  makeModel({ arch: "qwen2", out: dirs.qwen2, seed: 1 });
  makeModel({ arch: "mistral", out: dirs.mistral, seed: 1 });
  makeModel({
    arch: "llama", out: dirs.llamaQ4Again, seed: 1,
    quantization: { bits: 4, groupSize: 64, overrides: Object.fromEntries(LLAMA_Q4_OVERRIDES.map((o) => parseQuantOverride(o, 64))) },
  });
  makeModel({ arch: "qwen3", out: dirs.qwen3Q8, seed: 1, dtype: "bfloat16", quantization: { bits: 8, groupSize: 32 } });
  makeModel({ arch: "qwen2", out: dirs.qwen2Q4, seed: 1, rope: "yarn", quantization: { bits: 4, groupSize: 128 } });
  makeModel({ arch: "qwen2", out: dirs.qwen2Sharded, seed: 1, shards: 3 });
  makeModel({ arch: "qwen3", out: dirs.qwen3Again, seed: 1 });
  makeModel({ arch: "qwen3", out: dirs.qwen3Seed2, seed: 2 });
  makeModel({ arch: "qwen3", out: dirs.qwen3F16, seed: 1, dtype: "float16" });
  makeModel({ arch: "qwen3", out: dirs.qwen3Bf16, seed: 1, dtype: "bfloat16" });

  const outPath = join(root, "python-results.json");
  const job = {
    out: outPath,
    gen_tokens: GEN_TOKENS,
    prompt_messages: SYSTEM_USER.messages,
    models: ARCHS.map((arch) => ({
      arch,
      dir: dirs[arch],
      texts: textsFor(arch),
      conversations: CONVERSATIONS[arch].map((c) => ({
        name: c.name, messages: c.messages, tools: c.tools, add_generation_prompt: c.addGenerationPrompt ?? true, kwargs: c.kwargs ?? {},
      })),
    })),
    dtype_checks: [
      { dtype: "float16", f32: join(dirs.qwen3, "model.safetensors"), other: join(dirs.qwen3F16, "model.safetensors"), model_dir: dirs.qwen3F16 },
      { dtype: "bfloat16", f32: join(dirs.qwen3, "model.safetensors"), other: join(dirs.qwen3Bf16, "model.safetensors"), model_dir: dirs.qwen3Bf16 },
    ],
    quant_checks: [
      {
        name: "llama-q4", float_dir: dirs.llama, quant_dir: dirs.llamaQ4, dtype: "float32", group_size: 64, bits: 4,
        overrides: { lm_head: { group_size: 64, bits: 8 }, "model.embed_tokens": { group_size: 32, bits: 6 }, "model.layers.0.mlp.down_proj": false },
      },
      { name: "qwen3-q8", float_dir: dirs.qwen3, quant_dir: dirs.qwen3Q8, dtype: "bfloat16", group_size: 32, bits: 8, overrides: {} },
      { name: "qwen2-q4-g128", float_dir: dirs.qwen2, quant_dir: dirs.qwen2Q4, dtype: "float32", group_size: 128, bits: 4, overrides: {} },
    ],
    sharded_checks: [{ name: "qwen2", single_dir: dirs.qwen2, sharded_dir: dirs.qwen2Sharded }],
  };
  const r = Bun.spawnSync([PYTHON, "-c", PYTHON_CHECKS], {
    cwd: REPO, stdin: new TextEncoder().encode(JSON.stringify(job)), stdout: "pipe", stderr: "pipe",
    env: { ...process.env, TOKENIZERS_PARALLELISM: "false", TRANSFORMERS_VERBOSITY: "error" },
  });
  if (r.exitCode !== 0) throw new Error(`python checks failed (${r.exitCode}):\n${r.stderr.toString()}`);
  py = JSON.parse(readFileSync(outPath, "utf8")) as PyResults;
}, 180_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(ARCHS)("generated %s model", (arch) => {
  const spec = ARCH_SPECS[arch];

  test("has the mlx-community files and config", () => {
    const dir = dirs[arch];
    expect(readdirSync(dir).sort()).toEqual([
      "config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ]);
    const config = readJson(join(dir, "config.json"));
    expect(config.model_type).toBe(arch);
    expect(config.vocab_size).toBe(VOCAB_SIZE);
    expect(config.tie_word_embeddings).toBe(arch === "qwen3" || arch === "qwen2");
    expect(config.attention_bias).toBe(arch === "llama" || arch === "qwen3" ? false : undefined);
    expect(config.torch_dtype).toBe("float32");
    // Qwen2.5 configs have no head_dim (mlx-lm's qwen2 uses hidden / heads).
    expect(config.head_dim).toBe(arch === "qwen2" ? undefined : 16);
    expect(config.rope_scaling).toEqual(arch === "llama"
      ? { factor: 32, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: "llama3" }
      : null);
    expect(config.quantization).toBeUndefined();
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    // No temp or backup directory left beside the model.
    expect(readdirSync(root).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("mlx-lm loads it and greedy decoding is varied", () => {
    const r = py.models[arch];
    const tok = jsTokenizer(dirs[arch]);
    const eos = spec.stopTokens.map((t) => tok.token_to_id(t)!);
    expect(r.eos).toEqual([...eos].sort((a, b) => a - b));
    expect(r.vocab_size).toBe(VOCAB_SIZE);
    const stoppedAtEos = r.generated.length < GEN_TOKENS && eos.includes(r.generated.at(-1)!);
    expect(r.generated.length === GEN_TOKENS || stoppedAtEos).toBe(true);
    expect(r.generated.length).toBeGreaterThan(4);
    expect(new Set(r.generated).size).toBeGreaterThan(1);
    // mlx-lm's prompt ids = the JS tokenizer on the JS-rendered template.
    const rendered = jsRender(dirs[arch], SYSTEM_USER);
    expect(tok.encode(rendered, { add_special_tokens: false }).ids).toEqual(r.prompt);
  });

  test("@huggingface/tokenizers encodes and decodes like transformers", () => {
    const tok = jsTokenizer(dirs[arch]);
    const r = py.models[arch];
    textsFor(arch).forEach((text, i) => {
      const ids = tok.encode(text).ids;
      const plain = tok.encode(text, { add_special_tokens: false }).ids;
      expect({ text, ids }).toEqual({ text, ids: r.encode[i]! });
      expect({ text, plain }).toEqual({ text, plain: r.encode_plain[i]! });
      expect(plain.length === 0).toBe(text === "");
      if (plain.length === 0) return; // @huggingface/tokenizers' decode() throws on an empty id list
      expect(tok.decode(plain)).toBe(r.decode[i]!);
      expect(tok.decode(plain)).toBe(text);
      expect(tok.decode(ids, { skip_special_tokens: true })).toBe(r.decode_skip[i]!);
      expect(plain.every((id) => id >= 0 && id < VOCAB_SIZE)).toBe(true);
    });
    // Special tokens are single ids; llama prepends <|begin_of_text|> like Llama 3.
    for (const t of spec.addedTokens) expect(tok.encode(t.content, { add_special_tokens: false }).ids).toEqual([tok.token_to_id(t.content)!]);
    const hello = tok.encode("Hello").ids;
    if (spec.bosToken) expect(hello[0]).toBe(tok.token_to_id(spec.bosToken)!);
    else expect(hello).toEqual(tok.encode("Hello", { add_special_tokens: false }).ids);
  });

  test("chat template renders identically in @huggingface/jinja and transformers", () => {
    for (const c of CONVERSATIONS[arch]) {
      const expected = py.models[arch].render[c.name];
      expect(typeof expected).toBe("string");
      expect({ name: c.name, text: jsRender(dirs[arch], c) }).toEqual({ name: c.name, text: expected! });
    }
    const r = py.models[arch].render;
    if (arch === "qwen3") {
      expect(r["enable_thinking=false"]!.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n")).toBe(true);
      expect(r["enable_thinking=true"]!.endsWith("<|im_start|>assistant\n")).toBe(true);
      expect(r["tool call and result"]).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>');
      expect(r["tool call and result"]).toContain("<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>");
    } else if (arch === "qwen2") {
      expect(r["system+user"]).toBe("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n");
      expect(r["user only, no generation prompt"]).toBe("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nJust this.<|im_end|>\n");
      expect(r["tool call and result"]).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>');
      expect(r["tool call and result"]).toContain("<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>");
    } else if (arch === "mistral") {
      expect(r["system+user"]).toBe("<s>[INST] You are a helpful assistant.\n\nWrite a haiku about the sea.[/INST]");
      expect(r["multi-turn"]).toBe("<s>[INST] Hi![/INST] Hello. How can I help?</s>[INST]   You are terse.  \n\nTell me a joke about Ünïcödé 🙂.[/INST]");
      expect(r["tool call and result"]).toContain('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]</s>');
      expect(r["tool call and result"]).toContain('[TOOL_RESULTS] {"content": "12:00"}[/TOOL_RESULTS]');
      expect(r["tool call and result"]).toContain("[AVAILABLE_TOOLS] [");
    } else {
      expect(r["system+user"]!.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")).toBe(true);
      expect(r["system+user"]!.endsWith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")).toBe(true);
      expect(r["tool call and result"]).toContain('{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}<|eot_id|>');
      expect(r["tool call and result"]).toContain("<|start_header_id|>ipython<|end_header_id|>\n\n12:00<|eot_id|>");
    }
  });

  test("safetensors header and tensor names are what mlx-lm expects", () => {
    const st = readSafetensorsFile(join(dirs[arch], "model.safetensors"));
    expect(st.metadata).toEqual({ format: "mlx" });
    expect((8 + st.headerText.length) % 8).toBe(0);
    const layer = (i: number) => [
      `model.layers.${i}.input_layernorm.weight`,
      `model.layers.${i}.mlp.down_proj.weight`,
      `model.layers.${i}.mlp.gate_proj.weight`,
      `model.layers.${i}.mlp.up_proj.weight`,
      `model.layers.${i}.post_attention_layernorm.weight`,
      ...(arch === "qwen3" ? [`model.layers.${i}.self_attn.k_norm.weight`] : []),
      `model.layers.${i}.self_attn.k_proj.weight`,
      `model.layers.${i}.self_attn.o_proj.weight`,
      ...(arch === "qwen3" ? [`model.layers.${i}.self_attn.q_norm.weight`] : []),
      `model.layers.${i}.self_attn.q_proj.weight`,
      `model.layers.${i}.self_attn.v_proj.weight`,
      ...(arch === "qwen2" ? ["q", "k", "v"].map((x) => `model.layers.${i}.self_attn.${x}_proj.bias`) : []),
    ];
    const expected = [
      ...(spec.tieWordEmbeddings ? [] : ["lm_head.weight"]),
      "model.embed_tokens.weight", ...layer(0), ...layer(1), "model.norm.weight",
    ].sort();
    expect([...st.tensors.keys()].sort()).toEqual(expected);
    for (const t of st.tensors.values()) {
      expect(t.dtype).toBe("F32");
      expect(t.data.byteLength).toBe(DTYPE_BYTES[t.dtype] * shapeSize(t.shape));
    }
    expect(st.tensors.get("model.embed_tokens.weight")!.shape).toEqual([VOCAB_SIZE, 64]);
    expect(st.tensors.get("model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([64, 64]);
    expect(st.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([32, 64]);
    expect(st.tensors.get("model.layers.1.mlp.down_proj.weight")!.shape).toEqual([64, 128]);
    if (arch === "qwen3") expect(st.tensors.get("model.layers.1.self_attn.q_norm.weight")!.shape).toEqual([16]);
    if (arch === "qwen2") expect(st.tensors.get("model.layers.1.self_attn.k_proj.bias")!.shape).toEqual([32]);
    if (!spec.tieWordEmbeddings) expect(st.tensors.get("lm_head.weight")!.shape).toEqual([VOCAB_SIZE, 64]);
  });
});

describe("determinism and dtypes", () => {
  test("same seed → identical bytes; different seed → different weights, same tokenizer", () => {
    for (const name of readdirSync(dirs.qwen3)) {
      expect({ name, same: Buffer.compare(readFileSync(join(dirs.qwen3, name)), readFileSync(join(dirs.qwen3Again, name))) === 0 }).toEqual({ name, same: true });
    }
    for (const name of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readFileSync(join(dirs.qwen3Seed2, name), "utf8")).toBe(readFileSync(join(dirs.qwen3, name), "utf8"));
    }
    const a = readSafetensorsFile(join(dirs.qwen3, "model.safetensors"));
    const b = readSafetensorsFile(join(dirs.qwen3Seed2, "model.safetensors"));
    expect(b.headerText).toBe(a.headerText);
    for (const [name, t] of a.tensors) expect({ name, same: Buffer.compare(t.data, b.tensors.get(name)!.data) === 0 }).toEqual({ name, same: false });
  });

  test("float16 / bfloat16 files equal MLX's own rounding of the float32 weights, and load in mlx-lm", () => {
    for (const dtype of ["float16", "bfloat16"]) {
      expect(py.dtypes[dtype]).toEqual({ same: true, generated: 4 });
    }
    expect(readJson(join(dirs.qwen3Bf16, "config.json")).torch_dtype).toBe("bfloat16");
    const f16 = readSafetensorsFile(join(dirs.qwen3F16, "model.safetensors"));
    for (const t of f16.tensors.values()) expect(t.dtype).toBe("F16");
  });

  test("replacing an existing model works; a non-model directory is refused", () => {
    const out = join(root, "replace-me");
    makeModel({ arch: "qwen3", out, seed: 5 });
    makeModel({ arch: "llama", out, seed: 5 });
    expect(readJson(join(out, "config.json")).model_type).toBe("llama");
    const precious = join(root, "precious");
    Bun.spawnSync(["mkdir", "-p", precious]);
    writeFileSync(join(precious, "notes.txt"), "keep me");
    expect(() => makeModel({ arch: "qwen3", out: precious })).toThrow(/not a model directory/);
    expect(readFileSync(join(precious, "notes.txt"), "utf8")).toBe("keep me");
    rmSync(out, { recursive: true });
    rmSync(precious, { recursive: true });
    expect(readdirSync(root).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("CLI rejects bad arguments with exit status 2", () => {
    const x = join(root, "x");
    const bad: Array<[string[], string]> = [
      [["--arch", "gpt2"], "--arch must be one of llama, mistral, qwen2, qwen3"],
      [["--arch", "llama", "--bits", "7"], "--bits must be one of 2, 3, 4, 5, 6, 8"],
      [["--arch", "llama", "--bits", "4", "--group-size", "48"], "--group-size must be one of 32, 64, 128"],
      [["--arch", "llama", "--quant-override", "lm_head=8"], "--quant-override needs --bits"],
      [["--arch", "llama", "--bits", "4", "--quant-override", "lm_head"], "expected PATH=float, PATH=BITS or PATH=BITS/GROUP_SIZE"],
      [["--arch", "qwen3", "--bits", "4", "--quant-override", "lm_head=8"], "lm_head: no quantizable module"],
      [["--arch", "llama", "--bits", "4", "--quant-override", "model.norm=8"], "model.norm: no quantizable module"],
      [["--arch", "llama", "--rope", "dynamic"], "--rope must be one of default, linear, llama3, yarn"],
      [["--arch", "llama", "--shards", "0"], "--shards must be a positive integer"],
    ];
    for (const [args, message] of bad) {
      const r = Bun.spawnSync([BUN, "scripts/make-model.ts", ...args, "--out", x], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
      expect({ args, exitCode: r.exitCode, message: r.stderr.toString().includes(message) }).toEqual({ args, exitCode: 2, message: true });
      expect(r.stderr.toString()).toContain("usage:");
    }
    expect(existsSync(x)).toBe(false);
  });
});

describe("quantized and sharded output (mlx_lm.convert as the reference)", () => {
  test("4-bit with overrides: tensors identical to mlx-lm quantize_model's, config block as mlx_lm.convert writes it", () => {
    const r = py.quant["llama-q4"]!;
    expect(r.mismatched).toEqual([]);
    expect(r.generated).toBe(4);
    const config = readJson(join(dirs.llamaQ4, "config.json"));
    const block = {
      group_size: 64, bits: 4, mode: "affine",
      "model.embed_tokens": { group_size: 32, bits: 6, mode: "affine" },
      "model.layers.0.mlp.down_proj": false,
      lm_head: { group_size: 64, bits: 8, mode: "affine" },
    };
    expect(config.quantization).toEqual(block);
    expect(config.quantization_config).toEqual(block);
    // mlx-lm records parameter overrides; a module kept in float is written as `false` for the loader.
    const { "model.layers.0.mlp.down_proj": _float, ...recorded } = block;
    expect(r.quantization).toEqual(recorded);
    expect(r.quantized_modules).not.toContain("model.layers.0.mlp.down_proj");
    expect(r.quantized_modules).toContain("model.layers.1.mlp.down_proj");
    const st = readSafetensorsFile(join(dirs.llamaQ4, "model.safetensors"));
    expect(st.tensors.get("model.layers.1.self_attn.q_proj.weight")).toMatchObject({ dtype: "U32", shape: [64, 8] });
    expect(st.tensors.get("model.layers.1.self_attn.q_proj.scales")).toMatchObject({ dtype: "F32", shape: [64, 1] });
    expect(st.tensors.get("lm_head.weight")).toMatchObject({ dtype: "U32", shape: [VOCAB_SIZE, 16] });
    expect(st.tensors.get("model.embed_tokens.scales")).toMatchObject({ shape: [VOCAB_SIZE, 2] });
    expect(st.tensors.get("model.layers.0.mlp.down_proj.weight")).toMatchObject({ dtype: "F32", shape: [64, 128] });
    expect(st.tensors.has("model.norm.scales")).toBe(false);
    // Same options through the CLI and the library → identical bytes.
    for (const name of readdirSync(dirs.llamaQ4)) {
      expect({ name, same: Buffer.compare(readFileSync(join(dirs.llamaQ4, name)), readFileSync(join(dirs.llamaQ4Again, name))) === 0 }).toEqual({ name, same: true });
    }
  });

  test("8-bit bfloat16 g32 (tied, quantized embeddings) and 4-bit g128 match mlx-lm, including which modules it quantizes", () => {
    const q8 = py.quant["qwen3-q8"]!;
    expect(q8.mismatched).toEqual([]);
    expect(q8.generated).toBe(4);
    expect(q8.quantization).toEqual({ group_size: 32, bits: 8, mode: "affine" });
    expect(q8.quantized_modules).toContain("model.embed_tokens");
    expect(q8.quantized_modules.length).toBe(1 + 2 * 7);
    const st = readSafetensorsFile(join(dirs.qwen3Q8, "model.safetensors"));
    expect(st.tensors.get("model.embed_tokens.biases")).toMatchObject({ dtype: "BF16", shape: [VOCAB_SIZE, 2] });
    expect(st.tensors.get("model.layers.0.self_attn.q_norm.weight")).toMatchObject({ dtype: "BF16" });
    // Group size 128: only down_proj (128 inputs) is divisible; everything with 64 inputs stays float.
    const g128 = py.quant["qwen2-q4-g128"]!;
    expect(g128.mismatched).toEqual([]);
    expect(g128.quantized_modules).toEqual(["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"]);
    expect(readJson(join(dirs.qwen2Q4, "config.json")).rope_scaling).toEqual({ factor: 4, original_max_position_embeddings: 4096, type: "yarn" });
  });

  test("sharded: mlx-lm's file names and index, same tensors as the single file, loads in mlx-lm", () => {
    expect(readdirSync(dirs.qwen2Sharded).filter((f) => f.includes("safetensors")).sort()).toEqual([
      "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json",
    ]);
    expect(py.sharded.qwen2).toEqual({ mismatched: [], generated: 4 });
    const index = readJson(join(dirs.qwen2Sharded, "model.safetensors.index.json")) as {
      metadata: { total_size: number; total_parameters: number };
      weight_map: Record<string, string>;
    };
    const single = readSafetensorsFile(join(dirs.qwen2, "model.safetensors"));
    const names = [...single.tensors.keys()].sort();
    expect(Object.keys(index.weight_map)).toEqual(names);
    let bytes = 0;
    let params = 0;
    for (const t of single.tensors.values()) {
      bytes += t.data.byteLength;
      params += shapeSize(t.shape);
    }
    expect(index.metadata).toEqual({ total_size: bytes, total_parameters: params });
    for (const file of new Set(Object.values(index.weight_map))) {
      const shard = readSafetensorsFile(join(dirs.qwen2Sharded, file));
      expect([...shard.tensors.keys()].sort()).toEqual(names.filter((n) => index.weight_map[n] === file));
    }
  });
});

describe("safetensors writer and float conversion", () => {
  test("encode → parse round trip, header padded with spaces, sorted, contiguous", () => {
    const f = new Float32Array([1.5, -2, 3.25]);
    const bytes = encodeSafetensors([
      { name: "b", dtype: "F32", shape: [3], data: encodeFloats(f, "F32") },
      { name: "a", dtype: "U8", shape: [2, 1], data: new Uint8Array([7, 9]) },
      { name: "s", dtype: "BF16", shape: [], data: () => encodeFloats(new Float32Array([0.5]), "BF16") },
    ]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const st = parseSafetensors(bytes);
    expect(st.headerText.trimEnd().length).toBeLessThanOrEqual(n);
    expect(st.headerText.slice(st.headerText.trimEnd().length)).toMatch(/^ *$/);
    expect([...st.tensors.keys()]).toEqual(["a", "b", "s"]);
    expect(st.tensors.get("a")!.dataOffsets).toEqual([0, 2]);
    expect(Array.from(decodeFloats(st.tensors.get("b")!.data, "F32"))).toEqual([1.5, -2, 3.25]);
    expect(Array.from(decodeFloats(st.tensors.get("s")!.data, "BF16"))).toEqual([0.5]);
    expect(() => encodeSafetensors([{ name: "x", dtype: "F32", shape: [2], data: new Uint8Array(4) }])).toThrow(/expected 8/);
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 1))).toThrow();
  });

  test("float16 rounds to nearest even, handles subnormals, overflow and NaN", () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00],
      [Infinity, 0x7c00], [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001],
      [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -9 + 2 ** -11, 0x3c02], [0.1, 0x2e66],
    ];
    for (const [x, bits] of cases) expect({ x, bits: float32ToFloat16Bits(x) }).toEqual({ x, bits });
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    const rng = new Rng(3);
    for (let i = 0; i < 2000; i++) {
      const x = rng.normal() * 10;
      expect(float16BitsToFloat32(float32ToFloat16Bits(x))).toBeCloseTo(x, 1);
    }
  });

  test("bfloat16 rounds to nearest even", () => {
    const cases: Array<[number, number]> = [
      [1, 0x3f80], [-1, 0xbf80], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -6 + 2 ** -8, 0x3f82],
      [3.4028234663852886e38, 0x7f80], [Infinity, 0x7f80], [0.1, 0x3dcd],
    ];
    for (const [x, bits] of cases) expect({ x, bits: float32ToBfloat16Bits(x) }).toEqual({ x, bits });
    expect(float32ToBfloat16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  test("Rng is deterministic per (seed, name) and roughly standard normal", () => {
    const a = Rng.forTensor(1, "w").normalArray(20000, 1);
    const b = Rng.forTensor(1, "w").normalArray(20000, 1);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    expect(Rng.forTensor(1, "v").normalArray(4, 1)).not.toEqual(a.subarray(0, 4));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
