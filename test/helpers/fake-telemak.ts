/**
 * A Telemak emulated from its documented wire format (telemak-companion-wire §1.6-§1.9), for the fleet tests: the
 * OpenAI model list (loaded models only), its contract, `/health`, and the admin API — `/admin/activity`,
 * `/admin/sessions`, `/admin/memory`, `/admin/models/available`, synchronous `/admin/load` (400
 * `insufficient_memory` for a model too big) and `/admin/unload` (`?all=true` for all). Its chat completions have
 * Telemak's quirks: tool-call fragments without `index`, `prompt_tokens` without the cached tokens, and its own
 * Hugging Face id as `model`.
 */
export class FakeTelemak {
  /** Models on disk, with their sizes in GB. */
  readonly available = new Map<string, number>([
    ["mlx-community/Qwen3-4B-4bit", 2.3],
    ["mlx-community/Llama-3.2-1B-4bit", 0.7],
    ["mlx-community/Huge-405B-4bit", 220],
  ]);
  readonly loaded = new Set<string>(["mlx-community/Qwen3-4B-4bit"]);
  phase = "idle";
  private readonly server: ReturnType<typeof Bun.serve>;

  constructor() {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => this.handle(request) });
  }

  /** The engine's address as a person types it (no `/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const json = (value: unknown, status = 200) => Response.json(value, { status });
    switch (`${request.method} ${url.pathname}`) {
      case "GET /v1/models":
        return json({ object: "list", data: [...this.loaded].map((id) => ({ id, object: "model" })) });
      case "GET /.well-known/inference-engine.json":
        return json({
          engine: "telemak",
          version: "0.7.0",
          capabilities: { stream: true, tools: true, vision: false },
        });
      case "GET /health":
        return json({
          status: "ok",
          version: "0.7.0",
          uptime_s: 120,
          models_loaded: [...this.loaded],
          wired_memory_used_gb: 3.1,
          wired_memory_free_gb: 40,
          requests_served: 7,
          avg_tok_s_recent: 48.5,
        });
      case "GET /admin/activity":
        return json({
          active_requests: this.phase === "idle" ? 0 : 1,
          current_model: this.phase === "idle" ? null : [...this.loaded][0],
          current_request_started_at: null,
          current_elapsed_s: null,
          current_generated_tokens: null,
          current_tok_s: this.phase === "idle" ? null : 51.2,
          current_phase: this.phase,
          last_error: null,
        });
      case "GET /admin/sessions":
        return json({ sessions: [{ id: "conv-1", model: [...this.loaded][0], last_used_s: 3, kv_size_mb: 12.5 }] });
      case "GET /admin/memory":
        return json({ used_gb: 3.1, free_gb: 40, total_gb: 64, ceiling_gb: 48, per_model: {} });
      case "GET /admin/models/available":
        return json({
          models: [...this.available].map(([id, gb]) => ({ id, source: "telemak-models-dir", size_gb: gb })),
        });
      case "POST /v1/chat/completions": {
        const body = (await request.json()) as { model: string; stream?: boolean };
        const usage = {
          prompt_tokens: 5,
          completion_tokens: 3,
          total_tokens: 8,
          prompt_tokens_details: { cached_tokens: 20 },
        };
        const call = (id: string, name: string, args: string) => ({
          id,
          type: "function",
          function: { name, arguments: args },
        });
        if (body.stream !== true) {
          return json({
            id: "chatcmpl-t",
            object: "chat.completion",
            created: 1,
            model: body.model,
            choices: [{ index: 0, message: { role: "assistant", content: "done" }, finish_reason: "stop" }],
            usage,
          });
        }
        const chunk = (delta: object, finish: string | null = null) => ({
          id: "chatcmpl-t",
          object: "chat.completion.chunk",
          created: 1,
          model: body.model,
          choices: [{ index: 0, delta, finish_reason: finish }],
        });
        const events = [
          chunk({ role: "assistant", content: "" }),
          // Two parallel calls, fragments without `index` (as Telemak sends them).
          chunk({ tool_calls: [call("call_a", "weather", '{"city":')] }),
          chunk({ tool_calls: [{ function: { arguments: '"Paris"}' } }] }),
          chunk({ tool_calls: [call("call_b", "time", '{"tz":')] }),
          chunk({ tool_calls: [{ function: { arguments: '"CET"}' } }] }),
          chunk({}, "tool_calls"),
          { ...chunk({}), choices: [], usage },
        ];
        const text = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
        return new Response(text, { headers: { "content-type": "text/event-stream" } });
      }
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
        return json({ status: this.loaded.delete(model) ? "unloaded" : "noop", model });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  }
}
