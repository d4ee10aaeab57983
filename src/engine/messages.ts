/**
 * Normalises OpenAI chat messages into what Hugging Face chat templates expect, as transformers users and mlx-lm's
 * server (`convert_chat`) prepare them:
 * - `content` as a string: text parts (`[{type: "text", text}]`) are concatenated, other parts ignored; a null or
 *   missing content (an assistant turn with only tool calls) becomes "".
 * - assistant `tool_calls[].function.arguments`: OpenAI sends a JSON string, templates want a mapping (Qwen3 writes it
 *   with `tojson`, Qwen3-Coder iterates it with `|items`), so a string holding a JSON object is parsed; an empty
 *   string is `{}`; anything else is left as it is (templates that test `arguments is string` print it verbatim).
 * - `tool` messages keep `tool_call_id`; when they lack `name`, it is taken from the assistant call with that id
 *   (templates such as Llama 3.1 / Mistral print the function name with the result).
 * Other fields (`reasoning_content`, `name`, ...) pass through. The input is not modified.
 */

type Message = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The text of an OpenAI `content` value (string, array of parts, or null). */
export function contentText(content: unknown): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (isObject(part) && part.type === "text" && typeof part.text === "string" ? part.text : ""))
      .join("");
  }
  return String(content);
}

/** OpenAI's JSON-string arguments as the mapping templates expect (see the module comment). */
export function templateArguments(args: unknown): unknown {
  if (typeof args !== "string") return args;
  if (!args.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return isObject(parsed) ? parsed : args;
  } catch {
    return args;
  }
}

function normalizeToolCall(call: unknown): unknown {
  if (!isObject(call) || !isObject(call.function)) return call;
  return { ...call, function: { ...call.function, arguments: templateArguments(call.function.arguments) } };
}

export function normalizeMessages(messages: unknown[]): Message[] {
  const callNames = new Map<string, string>();
  return messages.map((m) => {
    const msg: Message = { ...(m as Message) };
    msg.content = contentText(msg.content);
    if (Array.isArray(msg.tool_calls)) {
      const calls = msg.tool_calls.map(normalizeToolCall);
      msg.tool_calls = calls;
      for (const call of calls) {
        if (
          isObject(call) &&
          typeof call.id === "string" &&
          isObject(call.function) &&
          typeof call.function.name === "string"
        ) {
          callNames.set(call.id, call.function.name);
        }
      }
    }
    if (msg.role === "tool" && msg.name === undefined && typeof msg.tool_call_id === "string") {
      const name = callNames.get(msg.tool_call_id);
      if (name !== undefined) msg.name = name;
    }
    return msg;
  });
}
