/**
 * Keeping a Telemak's session cache right (telemak-companion-wire §2.1, §9 #29).
 *
 * A Telemak keeps, per `session_id`, a snapshot of the whole conversation's KV cache; on a hit it prefills only the
 * last message of the request on top of it. That is right only when the request continues exactly the conversation
 * the snapshot holds: the messages of the previous turn, the answer Telemak gave, and one new message. After an edit,
 * a regenerate or a branch under the same `session_id` Telemak would silently answer a different conversation.
 *
 * So Ithaca remembers, per client session, what the snapshot holds (a hash of the messages it sent and of the answer
 * that came back, recorded only once the answer finished: Telemak saves nothing for a failed one), and sends the
 * Telemak a session id of its own: the client's, plus a suffix that changes whenever the history diverges. A
 * divergent request therefore starts a fresh Telemak session (one full prefill) instead of continuing the wrong one;
 * the abandoned one ages out of Telemak's LRU. A session Ithaca has not seen since it started gets a fresh suffix too
 * (Telemak may hold a snapshot from before, of a history Ithaca cannot check).
 *
 * Model and scope changes (`enable_thinking`, `reasoning_effort`) need nothing here: Telemak itself treats a hit
 * with another model or scope as a miss.
 */
import { LRUCache } from "lru-cache";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";

/** Client sessions remembered per Telemak (least recently used forgotten first). */
const MAX_SESSIONS = 4096;

/** What a Telemak's snapshot for one client session holds. */
interface SessionState {
  /** The session id Telemak knows it by. */
  upstreamId: string;
  /** Messages of the request that made the snapshot. */
  count: number;
  /** Hash of those messages. */
  messagesHash: bigint;
  /** Hash of the answer's text and tool calls (see {@link replyFingerprint}). */
  replyHash: bigint;
}

/** The assistant turn Telemak produced, as the client will send it back. */
export interface TelemakReply {
  content: string;
  toolCalls: Array<{ name: string; arguments: string }>;
}

type Message = CanonicalChatRequest["messages"][number];

/** An assistant message as the canonical request carries it. */
interface AssistantMessage {
  role?: unknown;
  content?: unknown;
  tool_calls?: Array<{ function?: { name?: unknown; arguments?: unknown } }>;
}

/** The session ids one Telemak is sent (see the module comment). */
export class TelemakSessions {
  private readonly sessions = new LRUCache<string, SessionState>({ max: MAX_SESSIONS });

  /**
   * The session id to send for a request, and how to record its answer once it finished.
   * @param sessionId the client's session id.
   * @param messages the request's messages, as sent.
   * @returns `upstreamId` for the request's `session_id`; `record(reply)` to call once the answer finished.
   */
  begin(sessionId: string, messages: readonly Message[]): { upstreamId: string; record(reply: TelemakReply): void } {
    const known = this.sessions.get(sessionId);
    const upstreamId =
      known && continues(known, messages) ? known.upstreamId : `${sessionId}~${crypto.randomUUID().slice(0, 8)}`;
    return {
      upstreamId,
      record: (reply) =>
        this.sessions.set(sessionId, {
          upstreamId,
          count: messages.length,
          messagesHash: hashOf(messages),
          replyHash: replyFingerprint(reply),
        }),
    };
  }
}

/** Whether `messages` are the snapshot's messages, its answer, and one new message (what Telemak can continue). */
function continues(state: SessionState, messages: readonly Message[]): boolean {
  if (messages.length !== state.count + 2) return false;
  const reply = messages[state.count] as AssistantMessage | undefined;
  if (reply?.role !== "assistant") return false;
  return (
    hashOf(messages.slice(0, state.count)) === state.messagesHash &&
    replyFingerprint(asReply(reply)) === state.replyHash
  );
}

/** An assistant message as a {@link TelemakReply}: its text (parts joined) and tool calls. */
function asReply(message: AssistantMessage): TelemakReply {
  const content = message.content;
  const text =
    typeof content === "string"
      ? content
      : Array.isArray(content)
        ? content.map((part) => String(partText(part))).join("")
        : "";
  return {
    content: text,
    toolCalls: (message.tool_calls ?? []).map((call) => ({
      name: String(call.function?.name ?? ""),
      arguments: String(call.function?.arguments ?? ""),
    })),
  };
}

/** A content part's text, or its image's URL. */
function partText(part: unknown): unknown {
  const p = part as { text?: unknown; image_url?: { url?: unknown } | string };
  return p.text ?? (typeof p.image_url === "string" ? p.image_url : p.image_url?.url) ?? "";
}

/**
 * A hash of a reply as clients send it back: text trimmed (clients trim, and drop the reasoning Ithaca split off),
 * tool calls by name and arguments (ids vary by client).
 */
function replyFingerprint(reply: TelemakReply): bigint {
  const calls = reply.toolCalls.map((call) => [call.name, canonicalJson(call.arguments)]);
  return BigInt(Bun.hash(JSON.stringify([reply.content.trim(), calls])));
}

/** JSON text re-serialized (clients re-encode tool-call arguments with their own spacing); other text as is. */
function canonicalJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/**
 * A hash of messages by what they say — role, text, images, tool calls and results — not by how they are written
 * (a string or text parts; the same conversation may arrive in either dialect).
 */
function hashOf(messages: readonly Message[]): bigint {
  const said = messages.map((message) => {
    const m = message as AssistantMessage & { tool_call_id?: unknown };
    const reply = asReply(m);
    return [
      m.role,
      reply.content,
      reply.toolCalls.map((c) => [c.name, canonicalJson(c.arguments)]),
      m.tool_call_id ?? null,
    ];
  });
  return BigInt(Bun.hash(JSON.stringify(said)));
}
