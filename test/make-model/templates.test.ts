/**
 * The chat templates scripts/make-model writes (scripts/make-model/templates.ts): `@huggingface/jinja` (what the engine
 * uses) renders them exactly as transformers' apply_chat_template does, tools, thinking and history included.
 */
import { describe, expect, test } from "bun:test";
import { ARCHS, CONVERSATIONS, jsRender, modelFixture } from "./fixtures.ts";

const { dirs, py } = modelFixture("ithaca-make-model-tpl-", ["qwen3", "llama", "qwen2", "mistral"], {
  models: { conversations: true },
});

describe.each(ARCHS)("generated %s model", (arch) => {
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
      expect(r["tool call and result"]).toContain(
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>',
      );
      expect(r["tool call and result"]).toContain(
        "<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>",
      );
    } else if (arch === "qwen2") {
      expect(r["system+user"]).toBe(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
      );
      expect(r["user only, no generation prompt"]).toBe(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nJust this.<|im_end|>\n",
      );
      expect(r["tool call and result"]).toContain(
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>',
      );
      expect(r["tool call and result"]).toContain(
        "<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>",
      );
    } else if (arch === "mistral") {
      expect(r["system+user"]).toBe("<s>[INST] You are a helpful assistant.\n\nWrite a haiku about the sea.[/INST]");
      expect(r["multi-turn"]).toBe(
        "<s>[INST] Hi![/INST] Hello. How can I help?</s>[INST]   You are terse.  \n\nTell me a joke about Ünïcödé 🙂.[/INST]",
      );
      expect(r["tool call and result"]).toContain(
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]</s>',
      );
      expect(r["tool call and result"]).toContain('[TOOL_RESULTS] {"content": "12:00"}[/TOOL_RESULTS]');
      expect(r["tool call and result"]).toContain("[AVAILABLE_TOOLS] [");
    } else {
      expect(r["system+user"]!.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")).toBe(
        true,
      );
      expect(r["system+user"]!.endsWith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")).toBe(true);
      expect(r["tool call and result"]).toContain(
        '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}<|eot_id|>',
      );
      expect(r["tool call and result"]).toContain("<|start_header_id|>ipython<|end_header_id|>\n\n12:00<|eot_id|>");
    }
  });
});
