/**
 * Building lists of {@link OutputDelta}s: each delta carries exactly one kind (`content`, `reasoning_content` or
 * `tool_calls`), empty ones are never emitted, and adjacent deltas of the same kind are merged.
 */
import type { OutputDelta, ToolCallDelta } from "../worker-messages.ts";

/** Appends text of one kind to `out`, merging with the last delta when it is of the same kind. */
export function appendText(out: OutputDelta[], kind: "content" | "reasoning_content", text: string): void {
  if (!text) return;
  const last = out.at(-1);
  if (last && last[kind] !== undefined) last[kind] += text;
  else out.push({ [kind]: text });
}

/** Appends tool calls to `out`, merging with the last delta when it holds tool calls too. */
export function appendToolCalls(out: OutputDelta[], calls: ToolCallDelta[]): void {
  if (!calls.length) return;
  const last = out.at(-1);
  if (last?.tool_calls) last.tool_calls.push(...calls);
  else out.push({ tool_calls: [...calls] });
}

/** Appends each delta of `deltas` to `out` with the merging rules above. */
export function appendAll(out: OutputDelta[], deltas: OutputDelta[]): void {
  for (const d of deltas) {
    if (d.reasoning_content !== undefined) appendText(out, "reasoning_content", d.reasoning_content);
    if (d.content !== undefined) appendText(out, "content", d.content);
    if (d.tool_calls) appendToolCalls(out, d.tool_calls);
  }
}
