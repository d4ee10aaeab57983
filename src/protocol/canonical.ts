/**
 * The canonical request inside Ithaca (DESIGN §2, canonical form): the OpenAI chat-completions shape plus Ithaca's
 * extensions (`session_id`, `enable_thinking`, `reasoning_effort`). Every route translates into it (translate/), every
 * backend answers it (backends/); the canonical answers are OpenAI's `chat.completion` and chunk objects
 * (./openai-response.ts).
 */

/** A chat-completions request body in canonical form (OpenAI shape plus `session_id`, `enable_thinking`, `reasoning_effort`). */
export type CanonicalChatRequest = Record<string, unknown> & {
  model: string;
  messages: unknown[];
  stream?: boolean;
};
