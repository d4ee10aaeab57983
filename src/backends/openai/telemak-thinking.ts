/**
 * How a Telemak model's reasoning is read and asked for (telemak-companion-wire §2.2, §9 #18, #23; odyssai-x-wire
 * §5.6). Telemak never sends `reasoning_content`: its models write `<think>…</think>` inline in `content`, and for
 * some the chat template opens the block in the prompt, so the answer starts inside it with no opening tag.
 *
 * Splitting follows OdyssAI-X's rules, with one improvement:
 * - the block starts open (the template pre-opened it) for MiniMax, Qwen3.5/3.6, Step-3.7 and GLM-5.2, unless the
 *   request turned thinking off (`enable_thinking: false`) and the model honours that flag (MiniMax-M2 and Step-3.7
 *   do not, so they always start open): an answer is never trapped in reasoning because the flag was honoured;
 * - MiniMax-M3 writes `<mm:think>…</mm:think>` and starts open only when thinking is asked for;
 * - improvement: any other model's answer is split too, but only when it starts with the opening tag itself (Qwen3,
 *   DeepSeek-R1 distills) — OdyssAI-X left those in `content`;
 * - an opening tag at the start of a pre-opened block is dropped (Telemak's `ThinkRepair` writes one itself).
 * The splitting itself is the engine's (src/engine/output/reasoning.ts): streaming-safe, with a carry buffer.
 *
 * Per-model `reasoning_effort` (OdyssAI-X `_default_reasoning_effort` / `_map_reasoning_effort`): Step-3.7 gets
 * `minimal` when the request names none; Hy3 knows only low and high (minimal → low, medium → high). `none` is never
 * sent (Companion never sends it; templates reject it): it becomes `enable_thinking: false`.
 */
import type { ReasoningMarkers, ReasoningOptions } from "../../engine/output/reasoning.ts";

/** How to split one answer's reasoning: the markers and the parser options. */
export interface ThinkSplit {
  markers: ReasoningMarkers;
  options: ReasoningOptions;
}

const THINK: ReasoningMarkers = { start: "<think>", end: "</think>" };
const MM_THINK: ReasoningMarkers = { start: "<mm:think>", end: "</mm:think>" };

/** Models whose template opens the reasoning block in the prompt. */
const PRE_OPENED = /minimax|qwen3\.[56]|step-?3\.7|step3p7|glm-5\.2/;
/** Models that think whatever `enable_thinking` says. */
const IGNORES_FLAG = /minimax-?m2|step-?3\.7|step3p7/;
const MINIMAX_M3 = /minimax-?m3/;
const STEP_3_7 = /step-?3\.7|step3p7/;
const HY3 = /(^|[/_-])hy-?3/;

/**
 * How a Telemak model's answer is split into `reasoning_content` and `content` (see the module comment).
 * @param model the upstream model id (`mlx-community/Qwen3.6-27B-4bit`); matched case-insensitively.
 * @param enableThinking the request's `enable_thinking`, when it is a boolean.
 */
export function telemakThinkSplit(model: string, enableThinking: boolean | undefined): ThinkSplit {
  const id = model.toLowerCase();
  if (MINIMAX_M3.test(id)) {
    return { markers: MM_THINK, options: { startInReasoning: enableThinking === true, dropRepeatedStart: true } };
  }
  const flagHonoured = enableThinking === false && !IGNORES_FLAG.test(id);
  const startInReasoning = PRE_OPENED.test(id) && !flagHonoured;
  return { markers: THINK, options: { startInReasoning, dropRepeatedStart: true } };
}

/**
 * Applies the per-model reasoning settings to an outgoing request body, in place (see the module comment).
 * @param outgoing the body about to be sent (`model` already the upstream id).
 */
export function applyReasoningDefaults(outgoing: Record<string, unknown>): void {
  const id = String(outgoing.model).toLowerCase();
  const effort = outgoing.reasoning_effort;
  if (effort === "none") {
    delete outgoing.reasoning_effort;
    outgoing.enable_thinking ??= false;
    return;
  }
  if (effort === undefined || effort === null) {
    if (STEP_3_7.test(id)) outgoing.reasoning_effort = "minimal";
    return;
  }
  if (HY3.test(id) && (effort === "minimal" || effort === "medium")) {
    outgoing.reasoning_effort = effort === "minimal" ? "low" : "high";
  }
}
