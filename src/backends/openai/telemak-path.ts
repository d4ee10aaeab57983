/**
 * The Telemak path of the OpenAI-dialect backend (telemak-companion-wire §9; DESIGN §7 "Telemak-aware proxying"):
 * what a request to a Telemak needs on the way out, and its answer on the way back.
 *
 * Out: `max_completion_tokens` sent as `max_tokens` and a cap supplied when the request names none (#19: Telemak
 * reads `max_tokens` only and has no cap of its own); the per-model reasoning settings (#18, ./telemak-thinking.ts);
 * the session id Telemak is sent, changed when the history diverged from what its session cache holds (#29,
 * ./telemak-sessions.ts). Back: the answer repaired (./telemak-repair.ts).
 */
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";
import type { ChatAnswer } from "../backend.ts";
import { canonicalAnswer } from "./read-answer.ts";
import { type RepairContext, repairChunks, repairCompletion } from "./telemak-repair.ts";
import { TelemakSessions } from "./telemak-sessions.ts";
import { applyReasoningDefaults, telemakThinkSplit } from "./telemak-thinking.ts";

/** One Telemak's request shaping and answer repair. */
export class TelemakPath {
  private readonly sessions = new TelemakSessions();

  /** @param defaultMaxTokens `max_tokens` sent when a request names none (tokens). */
  constructor(private readonly defaultMaxTokens: number) {}

  /**
   * Shapes the outgoing body in place (see the module comment).
   * @param outgoing the body about to be sent: a copy of `request` with `model` the upstream id and `session_id`
   *   the client's (when one is forwarded); `session_id` is replaced by the one Telemak is sent.
   * @param request the canonical request, as the client sent it.
   * @param alias the catalog id the client asked for.
   * @returns how to repair the answer.
   */
  prepare(outgoing: Record<string, unknown>, request: CanonicalChatRequest, alias: string): RepairContext {
    const asked = outgoing.max_completion_tokens ?? outgoing.max_tokens; // the newer field wins, as at OpenAI
    outgoing.max_tokens = typeof asked === "number" ? asked : this.defaultMaxTokens;
    delete outgoing.max_completion_tokens;
    applyReasoningDefaults(outgoing);
    const enableThinking = typeof outgoing.enable_thinking === "boolean" ? outgoing.enable_thinking : undefined;
    const context: RepairContext = { alias, think: telemakThinkSplit(String(outgoing.model), enableThinking) };
    if (typeof outgoing.session_id === "string") {
      const turn = this.sessions.begin(outgoing.session_id, request.messages);
      outgoing.session_id = turn.upstreamId;
      context.onFinished = turn.record;
    }
    return context;
  }

  /** The Telemak's answer, read into canonical values and repaired. */
  repair(answer: ChatAnswer, context: RepairContext): ChatAnswer {
    const canonical = canonicalAnswer(answer);
    return canonical.kind === "chunks" ? repairChunks(canonical, context) : repairCompletion(canonical, context);
  }
}
