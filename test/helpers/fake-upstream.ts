/**
 * A small real OpenAI-wire upstream for tests (Bun.serve on 127.0.0.1, random port). It records every chat request
 * (body, headers, whether the client aborted it), answers `GET /v1/models` and, optionally, a Telemak-shape
 * contract, and can be told to misbehave: fail with a status, hang before the headers, or hang mid-stream.
 */
import type { Server } from "bun";

export interface RecordedRequest {
  body: Record<string, unknown>;
  /** The body exactly as it arrived. */
  raw: string;
  headers: Headers;
  /** Resolves when the client (Ithaca) aborts the request. */
  aborted: Promise<void>;
  /** Whether the abort happened already. */
  wasAborted(): boolean;
}

export type Behavior =
  | { kind: "ok" }
  | { kind: "fail"; status: number; body: string; headers?: Record<string, string> }
  /** Never sends the response headers. */
  | { kind: "hang" }
  /**
   * Answers normally after `delayMs` of silence (a long prefill): before the whole answer, or, streamed, between the
   * role chunk and the first content chunk (as a local engine does).
   */
  | { kind: "slow"; delayMs: number }
  /** Sends the headers and `chunks` stream chunks, then nothing more. */
  | { kind: "stall"; chunks: number };

export interface FakeUpstreamOptions {
  /** Model ids listed by `GET /v1/models`. */
  models?: string[];
  /** Serve a Telemak-shape contract at `/.well-known/inference-engine.json` (else 404). */
  telemakContract?: boolean;
  /** Content chunks per streamed answer. */
  streamChunks?: number;
  /** Delay between streamed chunks, in milliseconds. */
  chunkDelayMs?: number;
  /** Port to listen on (default: any free one): a restarted upstream comes back where it was. */
  port?: number;
}

const encoder = new TextEncoder();
const frame = (payload: unknown) => encoder.encode(`data: ${JSON.stringify(payload)}\n\n`);

export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  behavior: Behavior = { kind: "ok" };
  private readonly server: Server<undefined>;

  constructor(private readonly options: FakeUpstreamOptions = {}) {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      idleTimeout: 0,
      fetch: (request) => this.handle(request),
    });
  }

  /** Base URL as configured in Ithaca (`…/v1`). */
  get port(): number {
    return this.server.port as number;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.server.port}/v1`;
  }

  get last(): RecordedRequest {
    const last = this.requests.at(-1);
    if (!last) throw new Error("the fake upstream received no chat request");
    return last;
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/v1/models") {
      return Response.json({
        object: "list",
        data: (this.options.models ?? []).map((id) => ({ id, object: "model" })),
      });
    }
    if (path === "/.well-known/inference-engine.json" && this.options.telemakContract) {
      return Response.json({
        engine: "telemak",
        version: "0.6.0",
        capabilities: { stream: true, tools: true, vision: false },
      });
    }
    if (path !== "/v1/chat/completions") return new Response("not found", { status: 404 });

    const raw = await request.text();
    const body = JSON.parse(raw) as Record<string, unknown>;
    let aborted = false;
    const abortedPromise = new Promise<void>((resolve) => {
      request.signal.addEventListener("abort", () => {
        aborted = true;
        resolve();
      });
    });
    this.requests.push({ body, raw, headers: request.headers, aborted: abortedPromise, wasAborted: () => aborted });

    const behavior = this.behavior;
    if (behavior.kind === "fail") {
      return new Response(behavior.body, { status: behavior.status, headers: behavior.headers });
    }
    if (behavior.kind === "hang") return new Promise<Response>(() => {});
    if (behavior.kind === "slow" && body.stream !== true) await Bun.sleep(behavior.delayMs);
    const model = String(body.model);
    if (body.stream !== true) {
      return Response.json({
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1,
        model,
        choices: [
          { index: 0, message: { role: "assistant", content: "Hello from the fake upstream" }, finish_reason: "stop" },
        ],
        usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 },
      });
    }
    const chunks = behavior.kind === "stall" ? behavior.chunks : (this.options.streamChunks ?? 3);
    const delay = this.options.chunkDelayMs ?? 5;
    const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model };
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0) await Bun.sleep(sent === 1 && behavior.kind === "slow" ? behavior.delayMs : delay);
        if (sent === 0) controller.enqueue(frame({ ...base, choices: [{ index: 0, delta: { role: "assistant" } }] }));
        else if (sent <= chunks)
          controller.enqueue(frame({ ...base, choices: [{ index: 0, delta: { content: `tok${sent} ` } }] }));
        else if (behavior.kind === "stall") return new Promise<void>(() => {});
        else {
          controller.enqueue(frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
          controller.enqueue(
            frame({
              ...base,
              choices: [],
              usage: { prompt_tokens: 5, completion_tokens: chunks, total_tokens: 5 + chunks },
            }),
          );
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
        }
        sent++;
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  }
}

/** A loopback port nothing listens on (bound once, then released). */
export function closedPort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port;
  probe.stop(true);
  if (port === undefined) throw new Error("no port");
  return port;
}
