/**
 * Engine Worker entry: owns one loaded model and runs all MLX work off the main thread (DESIGN §1).
 * Requests are served one at a time in arrival order; between decode steps the worker yields to its event loop so a
 * `cancel` message stops a generation within one step and frees its KV cache.
 */
declare const self: Worker;

import { liveArrays, memoryStats } from "bun-ffi-mlx-bindings";
import { ChatTemplate, ChatTemplateError } from "./chat-template.ts";
import { generateTokens } from "./generate.ts";
import { freeCaches, makeCaches } from "./kv-cache.ts";
import { loadModel } from "./model/loader.ts";
import type { DecoderModel } from "./model/decoder.ts";
import type { EngineStats, FromEngine, GenerateParams, ModelInfo, ToEngine } from "./protocol.ts";
import { Sampler } from "./sampler.ts";
import { StopMatcher } from "./stop-strings.ts";
import { ModelTokenizer, StreamingDetokenizer } from "./tokenizer.ts";
import { normalizeMessages } from "./messages.ts";

interface Loaded {
  model: DecoderModel;
  tokenizer: ModelTokenizer;
  template: ChatTemplate;
  info: ModelInfo;
}

let loaded: Loaded | undefined;
const queue: { id: number; params: GenerateParams }[] = [];
const cancelled = new Set<number>();
let running = false;
const counters = { requests: 0, completed: 0, cancelled: 0, failed: 0, generatedTokens: 0, promptTokens: 0 };

const send = (m: FromEngine) => self.postMessage(m);
const yieldToEvents = () => new Promise<void>((r) => setImmediate(r));

function load(id: string, path: string): void {
  const model = loadModel(path);
  try {
    const tokenizer = new ModelTokenizer(path, model.config.eosTokenIds);
    const template = new ChatTemplate(tokenizer);
    const c = model.config;
    const info: ModelInfo = {
      id,
      path,
      arch: c.arch,
      nbytes: model.nbytes,
      vocabSize: c.vocabSize,
      contextLength: c.maxPositionEmbeddings,
      quantization: c.quantization,
    };
    loaded = { model, tokenizer, template, info };
  } catch (err) {
    model.free();
    throw err;
  }
}

async function generate(id: number, params: GenerateParams): Promise<void> {
  const { model, tokenizer, template } = loaded!;
  let prompt: number[];
  try {
    const text = template.render(normalizeMessages(params.messages), params);
    prompt = tokenizer.encode(text);
  } catch (err) {
    const status = err instanceof ChatTemplateError ? 400 : 500;
    counters.failed++;
    return send({ type: "error", id, message: (err as Error).message, status });
  }
  const limit = loaded!.info.contextLength;
  if (limit && prompt.length + params.max_tokens > limit) {
    counters.failed++;
    const message = `prompt (${prompt.length} tokens) + max_tokens (${params.max_tokens}) exceeds the model's context length of ${limit} tokens`;
    return send({ type: "error", id, message, status: 400 });
  }
  send({ type: "prompt", id, promptTokens: prompt.length });
  counters.promptTokens += prompt.length;
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler(params);
  const detok = new StreamingDetokenizer(tokenizer);
  const stops = new StopMatcher(params.stop);
  let completion = 0;
  let finishReason: "stop" | "length" | "cancelled" = "length";
  let hitStopString = false;
  try {
    for (const token of generateTokens(model, caches, sampler, prompt, params.max_tokens)) {
      if (tokenizer.eosTokenIds.has(token)) {
        finishReason = "stop";
        break;
      }
      completion++;
      const { text, stopped } = stops.push(detok.push(token));
      if (text) send({ type: "delta", id, delta: { content: text } });
      if (stopped) {
        finishReason = "stop";
        hitStopString = true;
        break;
      }
      await yieldToEvents();
      if (cancelled.has(id)) {
        finishReason = "cancelled";
        break;
      }
    }
    if (finishReason !== "cancelled" && !hitStopString) {
      const last = stops.push(detok.flush());
      const tail = last.text + (last.stopped ? "" : stops.flush());
      if (tail) send({ type: "delta", id, delta: { content: tail } });
    }
    counters.generatedTokens += completion;
    counters[finishReason === "cancelled" ? "cancelled" : "completed"]++;
    send({ type: "done", id, finishReason, usage: { prompt_tokens: prompt.length, completion_tokens: completion, cached_tokens: 0 } });
  } catch (err) {
    counters.failed++;
    send({ type: "error", id, message: (err as Error).message, status: 500 });
  } finally {
    freeCaches(caches);
    sampler.free();
    cancelled.delete(id);
  }
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (queue.length) {
      const job = queue.shift()!;
      if (cancelled.delete(job.id)) {
        counters.cancelled++;
        send({ type: "done", id: job.id, finishReason: "cancelled", usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 } });
        continue;
      }
      await generate(job.id, job.params);
    }
  } finally {
    running = false;
  }
}

function stats(): EngineStats {
  return { ...counters, queued: queue.length, active: running ? 1 : 0, liveArrays: liveArrays(), memory: memoryStats() };
}

self.onmessage = (event: MessageEvent<ToEngine>) => {
  const msg = event.data;
  switch (msg.type) {
    case "load":
      try {
        load(msg.model.id, msg.model.path);
        send({ type: "loaded", info: loaded!.info });
      } catch (err) {
        send({ type: "load_error", message: (err as Error).message });
      }
      break;
    case "generate":
      counters.requests++;
      queue.push({ id: msg.id, params: msg.params });
      void drain();
      break;
    case "cancel":
      cancelled.add(msg.id);
      break;
    case "stats":
      send({ type: "stats", id: msg.id, stats: stats() });
      break;
    case "unload":
      loaded?.model.free();
      loaded = undefined;
      send({ type: "unloaded" });
      break;
  }
};
