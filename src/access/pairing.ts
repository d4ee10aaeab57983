/**
 * Pairing, as OdyssAI-X serves it to Companion (odyssai-x-wire §1.2, §7; telemak-companion-wire §6.2, §9 #6-#8):
 * the operator opens a discovery gate for a while, a client calls `POST /admin/pair` and gets a crew token, shown
 * once, which then authenticates it on `/v1/*`; the client disconnects by revoking its own token, the operator may
 * revoke any. Pairing closes the gate (one client per opening). An enrolment secret, when configured, lets a client
 * pair with the gate closed (`X-Ithaca-Enroll`, or OdyssAI-X's `X-Codeos-Enroll`).
 *
 * Better than OdyssAI-X: crew tokens are real credentials (OdyssAI-X treats them as identifiers on an open API), kept
 * as SHA-256 digests only, the enrolment secret compared in constant time; the gate lives in memory, so a restart
 * closes it.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { OpenAIError } from "../protocol/errors.ts";
import type { CrewRecord, CrewTable } from "../store/crew.ts";
import { secretDigest } from "./secret-digest.ts";

/** Every crew token starts with this. */
export const CREW_TOKEN_PREFIX = "crew_";
/** How long the gate stays open by default, in seconds (OdyssAI-X: 5 minutes). */
export const DEFAULT_GATE_S = 300;
/** The longest a gate may stay open, in seconds. */
export const MAX_GATE_S = 3600;
/** `last_seen_at` is written at most this often per client, in ms (not a write per request). */
const TOUCH_EVERY_MS = 60_000;

/** The discovery gate as `GET /admin/discovery/state` shows it (times ISO 8601). */
export interface GateState {
  active: boolean;
  started_at: string | null;
  expires_at: string | null;
}

/** What a client sends to pair. */
export interface PairInput {
  client_id: string;
  client_name: string;
  user_label?: string;
}

/** A paired client as the admin API shows it: never its token, only a preview. */
export interface CrewView {
  id: string;
  client_id: string;
  client_name: string;
  user_label: string | null;
  token_preview: string;
  created_at: string;
  last_seen_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The gate and the paired clients (see the module comment). */
export class Pairing {
  private gate: { startedAt: number; expiresAt: number } | undefined;
  private readonly enrollDigest: Buffer | undefined;
  private readonly touched = new Map<string, number>();

  /**
   * @param crew the runtime database's `crew` table.
   * @param enrollSecret lets a client pair with the gate closed; absent: only the gate opens pairing.
   */
  constructor(
    private readonly crew: CrewTable,
    enrollSecret?: string,
    private readonly now: () => number = Date.now,
  ) {
    this.enrollDigest = enrollSecret ? secretDigest(enrollSecret) : undefined;
  }

  /** Opens the gate for `seconds` (replacing an open one). */
  openGate(seconds = DEFAULT_GATE_S): GateState {
    const startedAt = this.now();
    this.gate = { startedAt, expiresAt: startedAt + seconds * 1000 };
    return this.state();
  }

  closeGate(): GateState {
    this.gate = undefined;
    return this.state();
  }

  state(): GateState {
    if (this.gate && this.gate.expiresAt <= this.now()) this.gate = undefined;
    return {
      active: this.gate !== undefined,
      started_at: iso(this.gate?.startedAt ?? null),
      expires_at: iso(this.gate?.expiresAt ?? null),
    };
  }

  /**
   * Pairs a client: a new crew token (replacing its earlier pairing), and the gate closes.
   * @param enrollSecret the secret the request presented, if any.
   * @returns the token (shown this once) and the client's crew id.
   * @throws OpenAIError 403 `gate_closed` when the gate is closed and no valid enrolment secret was presented.
   */
  pair(input: PairInput, enrollSecret?: string): { token: string; crew_id: string } {
    if (!this.state().active && !this.secretMatches(enrollSecret)) {
      throw new OpenAIError(
        403,
        "Pairing is closed: open it from the engine (POST /admin/discovery/enable), then join again.",
        { code: "gate_closed" },
      );
    }
    const token = `${CREW_TOKEN_PREFIX}${randomBytes(24).toString("base64url")}`;
    const id = `crew-${randomBytes(8).toString("hex")}`;
    this.crew.put({
      id,
      clientId: input.client_id,
      clientName: input.client_name,
      userLabel: input.user_label ?? null,
      tokenSha256: secretDigest(token).toString("hex"),
      tokenPreview: token.slice(0, CREW_TOKEN_PREFIX.length + 4),
      createdAt: this.now(),
    });
    this.gate = undefined;
    return { token, crew_id: id };
  }

  /** Every paired client, previews only. */
  list(): CrewView[] {
    return this.crew.list().map(view);
  }

  /** Revokes a pairing. @returns whether it existed. */
  revoke(id: string): boolean {
    this.touched.delete(id);
    return this.crew.delete(id);
  }

  /**
   * The paired client a crew token belongs to (looked up by digest), or undefined when it is unknown or revoked; its
   * `last_seen_at` is brought up to date (at most once a minute).
   */
  member(token: string): CrewRecord | undefined {
    const member = this.crew.byTokenSha256(secretDigest(token).toString("hex"));
    if (member) {
      const now = this.now();
      if (now - (this.touched.get(member.id) ?? 0) >= TOUCH_EVERY_MS) {
        this.touched.set(member.id, now);
        this.crew.touch(member.id, now);
      }
    }
    return member;
  }

  private secretMatches(presented: string | undefined): boolean {
    if (!this.enrollDigest || presented === undefined) return false;
    return timingSafeEqual(secretDigest(presented), this.enrollDigest);
  }
}

function view(record: CrewRecord): CrewView {
  return {
    id: record.id,
    client_id: record.clientId,
    client_name: record.clientName,
    user_label: record.userLabel,
    token_preview: `${record.tokenPreview}…`,
    created_at: iso(record.createdAt) as string,
    last_seen_at: iso(record.lastSeenAt),
  };
}
