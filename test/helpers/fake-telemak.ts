/**
 * A Telemak emulated from its documented wire format (telemak-companion-wire §1.3-§1.10, §2.1-§2.3), for the fleet
 * tests: the model list (loaded models only, sorted), its exact contract document, `/health`, the admin API —
 * `/admin/activity`, `/admin/sessions` (+ `/clear`), `/admin/memory`, `/admin/models/available`, synchronous
 * `/admin/load` (400 `insufficient_memory` for a model too big) and `/admin/unload` (`?all=true` for all) — and
 * `/v1/chat/completions` and `/v1/embeddings` with Telemak's quirks:
 *
 * - reasoning inline in `content` (`<think>…</think>`; a Qwen3.6 template pre-opens the block, so no opening tag),
 *   content coalesced into multi-character pieces that cut markers apart;
 * - streamed tool calls without `index`, one chunk per call; finish chunk `delta: {}`; a usage chunk always
 *   (`choices: []`), `prompt_tokens` without the cached tokens, `cached_tokens` only when > 0;
 * - its own Hugging Face id as `model`; `max_tokens` read, `max_completion_tokens` ignored, no cap of its own;
 * - a session cache keyed by `session_id` (body, else `X-Session-Id`), scoped by model and thinking settings: on a
 *   hit only the last message is added to the cached conversation (an edited history is not noticed);
 * - in-band errors as an object, then the stream closes without `[DONE]`; `404 model_not_loaded` with
 *   `ready_models` for a model not loaded.
 *
 * What the model "says" shows what it saw: `Heard: <user turns of the conversation as the model has it>`, unless the
 * last user message asks for something else: `think` (reasoning then an answer), `tools` (two parallel calls),
 * `fail` (an in-band error after the first piece; a 500 `generation_failed` when not streamed).
 */

/** One request as the fixture received it. */
export interface TelemakRequest {
  path: string;
  headers: Headers;
  body: Record<string, unknown>;
}

interface Session {
  model: string;
  scope: string;
  /** The conversation the cached KV state holds: user turns and replies, as text. */
  turns: string[];
  kvSizeMb: number;
  lastUsedS: number;
}

type Message = { role: string; content?: unknown };

/** Characters per coalesced content piece (small, so markers are cut apart). */
const PIECE = 5;

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((part) => (part as { text?: string }).text ?? "").join("\n\n")
      : "";

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

export class FakeTelemak {
  /** Models on disk, with their sizes in GB. */
  readonly available = new Map<string, number>([
    ["mlx-community/Qwen3-4B-4bit", 2.3],
    ["mlx-community/Llama-3.2-1B-4bit", 0.7],
    ["mlx-community/Qwen3.6-27B-4bit", 15],
    ["mlx-community/Qwen3-Embedding-0.6B-4bit", 0.4],
    ["mlx-community/Huge-405B-4bit", 220],
  ]);
  readonly loaded = new Set<string>(["mlx-community/Qwen3-4B-4bit"]);
  phase = "idle";
  /** Every request to `/v1/*`, in order. */
  readonly requests: TelemakRequest[] = [];
  /** The session cache, by session id. */
  readonly sessions = new Map<string, Session>([
    ["conv-1", { model: "mlx-community/Qwen3-4B-4bit", scope: "", turns: [], kvSizeMb: 12.5, lastUsedS: 3 }],
  ]);
  private readonly server: ReturnType<typeof Bun.serve>;

  /** @param port a fixed port (to come back where it was after {@link stop}); default: a free one. */
  constructor(port = 0) {
    this.server = Bun.serve({ hostname: "127.0.0.1", port, fetch: (request) => this.handle(request) });
  }

  get port(): number {
    return this.server.port ?? 0;
  }

  /** The engine's address as a person types it (no `/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The last request to `/v1/*`. */
  get last(): TelemakRequest {
    const last = this.requests.at(-1);
    if (!last) throw new Error("the fake Telemak has had no request");
    return last;
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const json = (value: unknown, status = 200) => Response.json(value, { status });
    const loaded = [...this.loaded].sort();
    switch (`${request.method} ${url.pathname}`) {
      case "GET /v1/models":
        return json({
          object: "list",
          data: loaded.map((id) => ({ id, object: "model", created: 1_760_000_000, owned_by: "telemak" })),
        });
      case "GET /.well-known/inference-engine.json":
        return json({
          engine: "telemak",
          version: "0.7.0",
          capabilities: {
            stream: true,
            tools: true,
            vision: false,
            max_context: 32768,
            session_cache: true,
            openai_compat: "v1",
            anthropic_compat: "v1",
            embeddings: loaded.some((id) => id.includes("Embedding")),
            speculative_decoding: { supported: false, modes: ["mtp_adapter"], active_pairs: [] },
          },
          models: loaded.map((id) => ({
            id,
            x_telemak: { size_gb: this.available.get(id), kind: id.includes("Embedding") ? "embedder" : "llm" },
          })),
        });
      case "GET /health":
        return json({
          status: "ok",
          version: "0.7.0",
          uptime_s: 120,
          models_loaded: loaded,
          wired_memory_used_gb: 3.1,
          wired_memory_free_gb: 40,
          requests_served: 7,
          avg_tok_s_recent: 48.5,
        });
      case "GET /admin/activity":
        return json({
          active_requests: this.phase === "idle" ? 0 : 1,
          current_model: this.phase === "idle" ? null : loaded[0],
          current_request_started_at: null,
          current_elapsed_s: null,
          current_generated_tokens: null,
          current_tok_s: this.phase === "idle" ? null : 51.2,
          current_phase: this.phase,
          last_error: null,
        });
      case "GET /admin/sessions":
        return json({
          sessions: [...this.sessions].map(([id, s]) => ({
            id,
            model: s.model,
            last_used_s: s.lastUsedS,
            kv_size_mb: s.kvSizeMb,
          })),
        });
      case "POST /admin/sessions/clear": {
        const id = url.searchParams.get("session_id");
        if (!id) return json({ error: { message: "specify session_id or pass ?all=true" } }, 400);
        return json({ status: this.sessions.delete(id) ? "cleared" : "noop", session_id: id });
      }
      case "GET /admin/memory":
        return json({ used_gb: 3.1, free_gb: 40, total_gb: 64, ceiling_gb: 48, per_model: {} });
      case "GET /admin/models/available":
        return json({
          models: [...this.available].map(([id, gb]) => ({ id, source: "telemak-models-dir", size_gb: gb })),
        });
      case "POST /v1/chat/completions":
        return this.chat(await this.record(request, url));
      case "POST /v1/embeddings":
        return this.embeddings(await this.record(request, url));
      case "POST /admin/load": {
        const { model } = (await request.json()) as { model: string };
        const size = this.available.get(model);
        if (size === undefined) return json({ error: { message: `unknown model ${model}` } }, 404);
        if (size > 48) {
          return json(
            { error: { message: `not enough memory for ${model}`, type: "insufficient_memory" }, needed_gb: size },
            400,
          );
        }
        this.loaded.add(model);
        return json({ status: "loaded", model });
      }
      case "POST /admin/unload": {
        if (url.searchParams.get("all") === "true") {
          const models = [...this.loaded];
          this.loaded.clear();
          return json({ status: "unloaded_all", models });
        }
        const { model } = (await request.json()) as { model: string };
        for (const [id, session] of this.sessions) if (session.model === model) this.sessions.delete(id);
        return json({ status: this.loaded.delete(model) ? "unloaded" : "noop", model });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  }

  private async record(request: Request, url: URL): Promise<TelemakRequest> {
    const recorded = {
      path: url.pathname,
      headers: request.headers,
      body: (await request.json()) as Record<string, unknown>,
    };
    this.requests.push(recorded);
    return recorded;
  }

  private notLoaded(model: unknown): Response {
    const message = `model '${String(model)}' is not loaded; POST /admin/load first`;
    return Response.json(
      { error: { message, type: "model_not_loaded", code: "model_not_loaded" }, ready_models: [...this.loaded] },
      { status: 404 },
    );
  }

  private embeddings({ body }: TelemakRequest): Response {
    if (!this.loaded.has(String(body.model)) || !String(body.model).includes("Embedding"))
      return this.notLoaded(body.model);
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    return Response.json({
      object: "list",
      data: inputs.map((_, index) => ({ object: "embedding", index, embedding: [0.6, 0.8] })),
      model: body.model,
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    });
  }

  private chat({ headers, body }: TelemakRequest): Response {
    const model = String(body.model);
    if (!this.loaded.has(model)) return this.notLoaded(model);
    const messages = (body.messages ?? []) as Message[];
    const turns = messages.filter((m) => m.role !== "system").map((m) => textOf(m.content));
    if (!turns.length) {
      const message = "no user message to generate from";
      return Response.json(
        { error: { message, type: "invalid_request_error", code: "invalid_request_error" } },
        { status: 400 },
      );
    }
    // The session cache (§2.1): a hit adds only the last message to the conversation it holds.
    const sessionId =
      typeof body.session_id === "string" ? body.session_id : (headers.get("x-session-id") ?? undefined);
    const scope = ["enable_thinking", "reasoning_effort"]
      .filter((key) => body[key] !== undefined)
      .map((key) => `${key}=${body[key]}`)
      .join(";");
    const cached = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    const hit = cached !== undefined && cached.model === model && cached.scope === scope;
    const seen = hit ? [...cached.turns, turns.at(-1)!] : turns;
    const cachedTokens = hit ? words(cached.turns.join(" ")) : 0;
    const last = turns.at(-1)!.trim();
    const usage = {
      prompt_tokens: words(hit ? turns.at(-1)! : turns.join(" ")),
      completion_tokens: 3,
      total_tokens: 0,
      ...(cachedTokens > 0 && { prompt_tokens_details: { cached_tokens: cachedTokens } }),
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const preOpened = model.toLowerCase().includes("qwen3.6");
    let content = `Heard: ${seen.filter((_, i) => i % 2 === 0).join(" | ")}`;
    if (last === "think") {
      // With thinking turned off the template closes the block itself and the model answers plainly.
      content =
        body.enable_thinking === false
          ? "The answer is 4."
          : `${preOpened ? "" : "<think>\n"}Two and two.\n</think>\n\nThe answer is 4.`;
    }
    const calls =
      last === "tools"
        ? [
            { id: "call_a", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
            { id: "call_b", type: "function", function: { name: "time", arguments: '{"tz":"CET"}' } },
          ]
        : [];
    const save = () => {
      if (sessionId !== undefined) {
        this.sessions.set(sessionId, { model, scope, turns: [...seen, content], kvSizeMb: 1, lastUsedS: 0 });
      }
    };
    const base = { id: "chatcmpl-telemak", created: 1_760_000_000, model };
    if (body.stream !== true) {
      if (last === "fail") {
        return Response.json(
          { error: { message: "generation failed: GPU hang", type: "generation_failed", code: "generation_failed" } },
          { status: 500 },
        );
      }
      save();
      const message = calls.length ? { role: "assistant", tool_calls: calls } : { role: "assistant", content };
      return Response.json({
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message, finish_reason: calls.length ? "tool_calls" : "stop" }],
        usage,
      });
    }
    const chunk = (delta: object, finish?: string) => ({
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, ...(finish && { finish_reason: finish }) }],
    });
    const events: object[] = [chunk({ role: "assistant" })];
    if (last === "fail") {
      events.push(chunk({ content: "Par" }));
      events.push({ error: { message: "streaming aborted: GPU hang", type: "generation_failed" } });
    } else {
      if (calls.length) for (const call of calls) events.push(chunk({ tool_calls: [call] }));
      else for (let i = 0; i < content.length; i += PIECE) events.push(chunk({ content: content.slice(i, i + PIECE) }));
      events.push(chunk({}, calls.length ? "tool_calls" : "stop"));
      events.push({ ...base, object: "chat.completion.chunk", choices: [], usage });
      save();
    }
    const frames = events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("");
    const done = last === "fail" ? "" : "data: [DONE]\n\n";
    return new Response(frames + done, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
}
