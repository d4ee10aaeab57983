/**
 * Engine Worker entry: owns one loaded model and runs all MLX work off the main thread (DESIGN §1).
 * Requests decode together in one batch per model ({@link Scheduler} over a {@link BatchGenerator}); between steps
 * the Worker yields to its event loop so a `cancel` message stops a generation within one step and frees its KV cache.
 */
declare const self: Worker;

import { liveArrays, memoryStats, setCacheLimit, setWiredLimit } from "bun-ffi-mlx-bindings";
import { BatchGenerator } from "./batch-generator.ts";
import { PREFILL_STEP_SIZE } from "./generate-step.ts";
import { Generation, type LoadedModel } from "./generation.ts";
import { loadModel } from "./model/loader.ts";
import { detectOutputFormat, outputCapabilities } from "./output/parser.ts";
import { PrefixCache, type PrefixCacheOptions } from "./prefix-cache.ts";
import { loadPromptModel } from "./prompt.ts";
import type { EngineStats, FromEngine, GenerateParams, MemoryLimits, ModelInfo, ToEngine } from "./worker-messages.ts";
import { Scheduler } from "./scheduler.ts";

let loaded: LoadedModel | undefined;
let scheduler: Scheduler | undefined;
const pending = new Map<number, GenerateParams>();
const counters = { requests: 0, completed: 0, cancelled: 0, failed: 0, generatedTokens: 0, promptTokens: 0 };

const send = (m: FromEngine) => self.postMessage(m);

function load(
  id: string,
  path: string,
  memory: MemoryLimits | undefined,
  prefixCache: PrefixCacheOptions,
  upcastScales = false,
): LoadedModel {
  if (memory?.cacheLimitBytes !== undefined) setCacheLimit(memory.cacheLimitBytes);
  if (memory?.wiredLimitBytes !== undefined) setWiredLimit(memory.wiredLimitBytes);
  const model = loadModel(path, { upcastScales });
  try {
    const { tokenizer, template } = loadPromptModel(path, model.config.eosTokenIds);
    const c = model.config;
    const outputFormat = detectOutputFormat(template.source);
    const info: ModelInfo = {
      id,
      path,
      arch: c.arch,
      nbytes: model.nbytes,
      vocabSize: c.vocabSize,
      contextLength: c.maxPositionEmbeddings,
      quantization: c.quantization,
      capabilities: outputCapabilities(outputFormat),
    };
    return { model, tokenizer, template, info, outputFormat, prefixCache: new PrefixCache(prefixCache) };
  } catch (err) {
    model.free();
    throw err;
  }
}

/** mlx-lm's `prefill_batch_size` default: sequences prefilled together. */
const PREFILL_BATCH_SIZE = 8;

function createScheduler(maxActive: number, m: LoadedModel): Scheduler {
  const batch = new BatchGenerator(m.model, {
    completionBatchSize: maxActive,
    prefillBatchSize: Math.min(PREFILL_BATCH_SIZE, maxActive),
    prefillStepSize: PREFILL_STEP_SIZE,
  });
  return new Scheduler(
    maxActive,
    {
      create(id) {
        const params = pending.get(id)!;
        pending.delete(id);
        return new Generation(id, params, loaded!, send);
      },
      cancelledWhileWaiting(id) {
        pending.delete(id);
        counters.cancelled++;
        send({
          type: "done",
          id,
          finishReason: "cancelled",
          usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 },
        });
      },
      finished(outcome) {
        counters.promptTokens += outcome.promptTokens;
        counters.generatedTokens += outcome.completionTokens;
        if (outcome.finishReason === "failed") counters.failed++;
        else if (outcome.finishReason === "cancelled") counters.cancelled++;
        else counters.completed++;
      },
    },
    batch,
  );
}

function stats(): EngineStats {
  return {
    ...counters,
    queued: scheduler?.waiting ?? 0,
    active: scheduler?.active ?? 0,
    decodeSteps: scheduler?.decodeSteps ?? 0,
    liveArrays: liveArrays(),
    prefixCache: loaded?.prefixCache.stats() ?? PrefixCache.emptyStats(),
    memory: memoryStats(),
  };
}

self.onmessage = async (event: MessageEvent<ToEngine>) => {
  const msg = event.data;
  switch (msg.type) {
    case "load":
      try {
        loaded = load(msg.model.id, msg.model.path, msg.memory, msg.prefixCache, msg.upcastQuantizedScales);
        scheduler = createScheduler(msg.maxActive, loaded);
        send({ type: "loaded", info: loaded.info });
      } catch (err) {
        send({ type: "load_error", message: (err as Error).message });
      }
      break;
    case "generate":
      counters.requests++;
      pending.set(msg.id, msg.params);
      scheduler!.submit(msg.id);
      break;
    case "cancel":
      scheduler?.cancel(msg.id);
      break;
    case "stats":
      send({ type: "stats", id: msg.id, stats: stats() });
      break;
    case "sessions":
      send({ type: "sessions", id: msg.id, entries: loaded?.prefixCache.list() ?? [] });
      break;
    case "clear_sessions":
      send({ type: "sessions_cleared", id: msg.id, cleared: loaded?.prefixCache.clear(msg.sessionId) ?? 0 });
      break;
    case "unload":
      await scheduler?.cancelAll();
      loaded?.prefixCache.clear();
      loaded?.model.free();
      loaded = undefined;
      send({ type: "unloaded" });
      break;
  }
};
