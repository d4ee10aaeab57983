/**
 * Normalises OpenAI chat messages for chat templates, which expect `content` as a string: text parts
 * (`[{type: "text", text}]`) are joined; a null content (assistant turn with only tool calls) becomes "".
 * Other fields (`tool_calls`, `tool_call_id`, `name`, `reasoning_content`) pass through unchanged.
 */
export function normalizeMessages(messages: unknown[]): Record<string, unknown>[] {
  return messages.map((m) => {
    const msg = { ...(m as Record<string, unknown>) };
    const c = msg.content;
    if (c == null) msg.content = "";
    else if (Array.isArray(c)) {
      msg.content = c
        .map((part: { type?: string; text?: string }) => (part?.type === "text" ? part.text ?? "" : ""))
        .join("");
    }
    return msg;
  });
}
