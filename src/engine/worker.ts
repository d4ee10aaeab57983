/**
 * Engine Worker entry: owns one loaded model and runs all MLX work off the main thread (DESIGN §1).
 * Requests decode together in one batch per model ({@link Scheduler} over a {@link BatchGenerator}); between steps
 * the Worker yields to its event loop so a `cancel` message stops a generation within one step and frees its KV cache.
 */
declare const self: Worker;

import { distributed, liveArrays, memoryStats, setCacheLimit, setWiredLimit } from "bun-ffi-mlx-bindings";
import { BatchGenerator } from "./batch-generator.ts";
import { PREFILL_STEP_SIZE } from "./generate-step.ts";
import { Generation, type LoadedModel } from "./generation.ts";
import { loadModel } from "./model/loader.ts";
import type { QuantLoadOptions } from "./model/linear.ts";
import { readModelConfig } from "./model/files.ts";
import { Parallel, pipelineLayers } from "./model/parallel.ts";
import { RingSync, type SyncedMessage } from "./ring-sync.ts";
import { detectOutputFormat, outputCapabilities } from "./output/parser.ts";
import { PrefixCache, type PrefixCacheOptions } from "./prefix-cache.ts";
import { loadPromptModel } from "./prompt.ts";
import type { EngineStats, FromEngine, GenerateParams, MemoryLimits, ModelInfo, ToEngine } from "./worker-messages.ts";
import { Scheduler } from "./scheduler.ts";

let loaded: LoadedModel | undefined;
let scheduler: Scheduler | undefined;
/** Set when the model is spread over the ranks of a ring (`ITHACA_RING_MODE`: an `ithaca rank` process). */
let ring: RingSync | undefined;
const pending = new Map<number, GenerateParams>();
const counters = { requests: 0, completed: 0, cancelled: 0, failed: 0, generatedTokens: 0, promptTokens: 0 };

const send = (m: FromEngine) => self.postMessage(m);

function load(
  id: string,
  path: string,
  memory: MemoryLimits | undefined,
  prefixCache: PrefixCacheOptions,
  quant: QuantLoadOptions,
): LoadedModel {
  if (memory?.cacheLimitBytes !== undefined) setCacheLimit(memory.cacheLimitBytes);
  if (memory?.wiredLimitBytes !== undefined) setWiredLimit(memory.wiredLimitBytes);
  const parallel = joinRing(path);
  const model = loadModel(path, { ...quant, parallel });
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
    return {
      model,
      tokenizer,
      template,
      info,
      outputFormat,
      prefixCache: new PrefixCache(ring ? { ...prefixCache, ttlS: 0 } : prefixCache),
    };
  } catch (err) {
    model.free();
    throw err;
  }
}

/**
 * In an `ithaca rank` process (`ITHACA_RING_MODE` pipeline or tensor, `MLX_HOSTFILE` and `MLX_RANK` set): joins the
 * ring and answers this rank's part (a pipeline stage: `ITHACA_RING_LAYERS` `start:end`, else an even split);
 * undefined otherwise.
 */
function joinRing(path: string): Parallel | undefined {
  const mode = process.env.ITHACA_RING_MODE;
  if (mode !== "pipeline" && mode !== "tensor") return undefined;
  const group = distributed.initDistributed({ backend: "ring", strict: true });
  const { rank, size } = group;
  ring = new RingSync(group);
  if (mode === "tensor") return new Parallel(group, { mode, rank, size });
  const given = process.env.ITHACA_RING_LAYERS?.split(":").map(Number) as [number, number] | undefined;
  const layers = given ?? pipelineLayers(readModelConfig(path).numLayers, rank, size);
  return new Parallel(group, { mode, rank, size, layers });
}

/** Applies a message that changes what the engine computes: at once, or on a ring at a step boundary on every rank. */
function applySynced(message: SyncedMessage): void {
  switch (message.type) {
    case "generate":
      counters.requests++;
      pending.set(message.id, message.params);
      scheduler?.enqueue(message.id);
      break;
    case "cancel":
      scheduler?.cancel(message.id);
      break;
    case "clear_sessions": {
      const cleared = loaded?.prefixCache.clear(message.sessionId) ?? 0;
      if (!ring || ring.leader) send({ type: "sessions_cleared", id: message.id, cleared });
      break;
    }
  }
}

/** The step boundary of a model spread over ranks; a ring that broke ends this rank's process. */
function stepSync(sync: RingSync) {
  return {
    exchange() {
      let messages: SyncedMessage[];
      try {
        messages = sync.exchange();
      } catch (err) {
        console.error(`[ithaca] rank ${sync.group.rank}: the ring broke (${(err as Error).message}); exiting`);
        process.kill(process.pid, "SIGTERM");
        throw err;
      }
      for (const message of messages) applySynced(message);
    },
    get pending() {
      return sync.pending;
    },
    follower: !sync.leader,
  };
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
    ring && stepSync(ring),
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
        loaded = load(msg.model.id, msg.model.path, msg.memory, msg.prefixCache, {
          upcastScales: msg.upcastQuantizedScales,
          matmulStreams: msg.matmulStreams,
        });
        scheduler = createScheduler(msg.maxActive, loaded);
        send({ type: "loaded", info: loaded.info });
      } catch (err) {
        send({ type: "load_error", message: (err as Error).message });
      }
      break;
    case "generate":
    case "cancel":
    case "clear_sessions":
      // On a ring, every rank applies them at the same step boundary (./ring-sync.ts); alone, at once.
      if (ring) ring.post(msg);
      else applySynced(msg);
      scheduler?.kick();
      break;
    case "stats":
      send({ type: "stats", id: msg.id, stats: stats() });
      break;
    case "sessions":
      send({ type: "sessions", id: msg.id, entries: loaded?.prefixCache.list() ?? [] });
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
