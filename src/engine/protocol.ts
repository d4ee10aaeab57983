/**
 * Messages between the main thread and the engine Worker (DESIGN §1): `load`, `generate`, `cancel`, `stats`, `unload`
 * in; `loaded`, `token`, `done`, `error`, `stats` out. Only plain data crosses (structured clone).
 */

/** A chat request as the engine needs it (already validated by the HTTP layer). */
export interface GenerateParams {
  messages: unknown[];
  tools?: unknown[];
  enable_thinking?: boolean;
  reasoning_effort?: string;
  /** Completion budget in tokens. */
  max_tokens: number;
  /** 0 = greedy. */
  temperature: number;
  top_p: number;
  seed?: number;
  /** Stop strings; the matched text is not returned. */
  stop: string[];
  session_id?: string;
}

export interface ModelInfo {
  id: string;
  path: string;
  arch: string;
  /** Parameter bytes. */
  nbytes: number;
  vocabSize: number;
  contextLength?: number;
  quantization?: { groupSize: number; bits: number };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens served from the prefix cache (0 until the prefix cache lands). */
  cached_tokens: number;
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface EngineStats {
  requests: number;
  completed: number;
  cancelled: number;
  failed: number;
  queued: number;
  active: number;
  generatedTokens: number;
  promptTokens: number;
  /** Live MxArray handles in the worker (leak check). */
  liveArrays: number;
  memory: { active: number; cache: number; peak: number };
}

export type ToEngine =
  | { type: "load"; model: { id: string; path: string } }
  | { type: "generate"; id: number; params: GenerateParams }
  | { type: "cancel"; id: number }
  | { type: "stats"; id: number }
  | { type: "unload" };

export type FromEngine =
  | { type: "loaded"; info: ModelInfo }
  | { type: "load_error"; message: string }
  | { type: "prompt"; id: number; promptTokens: number }
  | { type: "token"; id: number; text: string }
  | { type: "done"; id: number; finishReason: FinishReason; usage: Usage }
  | { type: "error"; id: number; message: string; status: number }
  | { type: "stats"; id: number; stats: EngineStats }
  | { type: "unloaded" };
