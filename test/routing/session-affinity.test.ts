/**
 * Session affinity (src/routing/session-affinity.ts), the built-in routing policy: rendezvous hashing of the session id
 * over the replicas of one model. First the ordering itself (stable, spread, minimal movement when a replica goes or
 * comes), then end to end with the `openai` SDK against a real Ithaca in front of three real HTTP replicas serving
 * one model id: a session sticks to one replica, sessions spread, the session id reaches the LAN replicas, a failing
 * replica (503, then a closed port) sends each of its sessions to that session's own next-best replica, where it
 * stays, while other sessions do not move; and the session id is not sent to a cloud fallback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { sessionAffinity, rendezvousOrder } from "../../src/routing/session-affinity.ts";
import type { Backend } from "../../src/backends/backend.ts";
import type { CatalogEntry } from "../../src/catalog/catalog.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";

const MODEL = "org/Qwen3-4B";

/** A replica of MODEL on backend `upstream:<name>` (the policy only reads ids). */
function replica(name: string): CatalogEntry {
  const backend = { id: `upstream:${name}`, kind: "openai-http" } as Backend;
  return { backend, model: { id: `${name}:qwen3-4b`, upstreamId: MODEL, aliases: [MODEL], ready: true } };
}

const sessions = (count: number) => Array.from({ length: count }, (_, index) => `conversation-${index}`);
const first = (sessionId: string, candidates: readonly CatalogEntry[]) =>
  rendezvousOrder(sessionId, candidates)[0]?.backend.id;

describe("rendezvous ordering", () => {
  const five = ["a", "b", "c", "d", "e"].map(replica);

  test("a session ranks the replicas the same way every time, whatever the catalog order", () => {
    for (const sessionId of sessions(50)) {
      const order = rendezvousOrder(sessionId, five).map((entry) => entry.backend.id);
      expect(new Set(order).size).toBe(five.length);
      expect(rendezvousOrder(sessionId, [...five].reverse()).map((entry) => entry.backend.id)).toEqual(order);
      const shuffled = [five[2]!, five[0]!, five[4]!, five[1]!, five[3]!];
      expect(rendezvousOrder(sessionId, shuffled).map((entry) => entry.backend.id)).toEqual(order);
    }
  });

  test("300 sessions spread over every replica", () => {
    const load = new Map<string, number>();
    for (const sessionId of sessions(300)) {
      const home = first(sessionId, five)!;
      load.set(home, (load.get(home) ?? 0) + 1);
    }
    expect([...load.keys()].sort()).toEqual(five.map((entry) => entry.backend.id).sort());
    // 60 expected each; a replica with under 30 would mean the hash does not spread.
    for (const count of load.values()) expect(count).toBeGreaterThanOrEqual(30);
  });

  test("removing a replica moves only its sessions, each to its own second choice", () => {
    const removed = five[1]!;
    const rest = five.filter((entry) => entry !== removed);
    let moved = 0;
    for (const sessionId of sessions(300)) {
      const before = rendezvousOrder(sessionId, five);
      const after = first(sessionId, rest);
      if (before[0] === removed) {
        moved++;
        expect(after).toBe(before[1]!.backend.id);
      } else expect(after).toBe(before[0]!.backend.id);
    }
    expect(moved).toBeGreaterThan(0);
  });

  test("adding a replica moves sessions only onto it", () => {
    const three = five.slice(0, 3);
    const four = five.slice(0, 4);
    let moved = 0;
    for (const sessionId of sessions(300)) {
      const after = first(sessionId, four);
      if (after === four[3]!.backend.id) moved++;
      else expect(after).toBe(first(sessionId, three));
    }
    expect(moved).toBeGreaterThan(0);
  });

  test("the policy keeps the catalog order without a session id or with one candidate", async () => {
    const request = { model: MODEL, body: { model: MODEL, messages: [] }, headers: new Headers() };
    expect(await sessionAffinity.select(five, request)).toBe(five);
    expect(await sessionAffinity.select([five[3]!], { ...request, sessionId: "s" })).toEqual([five[3]!]);
    expect(await sessionAffinity.select(five, { ...request, sessionId: "conversation-7" })).toEqual(
      rendezvousOrder("conversation-7", five),
    );
  });
});

describe("three replicas behind Ithaca", () => {
  const replicas = [0, 1, 2].map(() => new FakeUpstream({ models: [MODEL] }));
  const backendIds = replicas.map((_, index) => `upstream:r${index}`);
  const cloud = new FakeUpstream({ models: [] });
  const ids = sessions(24);
  /** Each session's replicas, best first (the catalog's real entries). */
  const orders = new Map<string, string[]>();
  /** Backend that answered each session in the first round. */
  const homes = new Map<string, string>();
  const failed = new Set<string>();
  let server: RunningIthaca;
  let client: OpenAI;

  beforeAll(async () => {
    server = await startIthaca({
      upstreams: [
        ...replicas.map((upstream, index) => ({
          id: `r${index}`,
          base_url: upstream.baseUrl,
          // One try per request; two failed requests put a replica in cool-down for the rest of the file.
          retry: { attempts: 1 },
          cooldown: { failures: 2, duration_ms: 600_000 },
        })),
        // A cloud provider (session_id not forwarded by default) as the model's last resort.
        { id: "cloud", base_url: cloud.baseUrl, cloud: true, published: [{ alias: "cloud-qwen", model: MODEL }] },
      ],
      fallbacks: { [MODEL]: ["cloud-qwen"] },
    });
    client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    const candidates = await server.ithaca.catalog.candidates(MODEL);
    expect(candidates.map((entry) => entry.backend.id)).toEqual(backendIds);
    for (const id of ids)
      orders.set(
        id,
        rendezvousOrder(id, candidates).map((entry) => entry.backend.id),
      );
  });
  afterAll(async () => {
    await server.close();
    for (const upstream of [...replicas, cloud]) upstream.stop();
  });

  /**
   * Sends one chat request for MODEL with the session in the `X-Session-Id` header or the `session_id` body field;
   * expects 200 and returns the answering backend (`x-ithaca-backend`).
   */
  async function send(sessionId: string | undefined, via: "header" | "body" = "header"): Promise<string> {
    const body = { model: MODEL, messages: [{ role: "user" as const, content: "hi" }] };
    const { data, response } = await client.chat.completions
      .create(
        (via === "body" && sessionId
          ? { ...body, session_id: sessionId }
          : body) as OpenAI.ChatCompletionCreateParamsNonStreaming,
        via === "header" && sessionId ? { headers: { "x-session-id": sessionId } } : undefined,
      )
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello from the fake upstream");
    return response.headers.get("x-ithaca-backend") ?? "";
  }

  /** The session's best replica among those not failed. */
  const expectedFor = (sessionId: string) => orders.get(sessionId)!.find((id) => !failed.has(id));

  test("each session stays on one replica, its rendezvous first choice; sessions spread over all three", async () => {
    for (const id of ids) {
      const home = await send(id, "header");
      homes.set(id, home);
      expect(home).toBe(orders.get(id)![0]!);
      for (const via of ["body", "header", "body"] as const) expect(await send(id, via)).toBe(home);
    }
    expect(new Set(homes.values())).toEqual(new Set(backendIds));
  });

  test("the session id reaches the LAN replica in the body and the header", async () => {
    const id = ids[5]!;
    const upstream = replicas[backendIds.indexOf(homes.get(id)!)]!;
    await send(id, "header");
    expect(upstream.last.body.session_id).toBe(id);
    expect(upstream.last.headers.get("x-session-id")).toBe(id);
    await send(id, "body");
    expect(upstream.last.body.session_id).toBe(id);
    expect(upstream.last.headers.get("x-session-id")).toBe(id);
  });

  test("without a session id the catalog order stands", async () => {
    expect(await send(undefined)).toBe(backendIds[0]!);
    expect(await send(undefined)).toBe(backendIds[0]!);
  });

  test("a replica answering 503: each of its sessions moves to its own next-best replica and stays; others stay", async () => {
    const down = homes.get(ids[0]!)!;
    const upstream = replicas[backendIds.indexOf(down)]!;
    upstream.behavior = { kind: "fail", status: 503, body: "overloaded" };
    failed.add(down);
    const before = upstream.requests.length;
    const movedTo = new Set<string>();
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const answered = await send(id, round === 0 ? "header" : "body");
        expect(answered).toBe(expectedFor(id)!);
        if (homes.get(id) === down) movedTo.add(answered);
        else expect(answered).toBe(homes.get(id)!);
      }
    }
    // Its sessions spread over both survivors rather than piling on one.
    expect(movedTo.size).toBe(2);
    // Two failed requests (dispatch moved on to the next entry), then the replica cooled down and the plan put it
    // last: no further request reached it.
    expect(upstream.requests.length - before).toBe(2);
  });

  test("a replica whose port closes: its sessions move to the last replica and stay", async () => {
    const down = backendIds.find((id) => !failed.has(id))!;
    replicas[backendIds.indexOf(down)]!.stop();
    failed.add(down);
    const last = backendIds.find((id) => !failed.has(id))!;
    for (let round = 0; round < 2; round++) {
      for (const id of ids) expect(await send(id)).toBe(last);
    }
  });

  test("every replica down: the cloud fallback answers, without the session id", async () => {
    const id = ids[3]!;
    const lastId = backendIds.find((backend) => !failed.has(backend))!;
    const lastReplica = replicas[backendIds.indexOf(lastId)]!;
    lastReplica.behavior = { kind: "fail", status: 503, body: "overloaded" };
    const tried = lastReplica.requests.length;
    expect(await send(id, "body")).toBe("upstream:cloud");
    // The replica was tried first with the session id; the cloud got the same request without it.
    expect(lastReplica.requests.length).toBe(tried + 1);
    expect(lastReplica.last.body.session_id).toBe(id);
    expect(cloud.last.body.session_id).toBeUndefined();
    expect(cloud.last.headers.get("x-session-id")).toBeNull();
    expect(cloud.last.body.model).toBe(MODEL);
  });
});
