/**
 * `POST /v1/embeddings` (OpenAI dialect): passed through, body and answer unchanged but for `model`, to the backends
 * of the plan that serve embeddings (`Backend.embeddings`: OpenAI-dialect upstreams). A model whose backends do not
 * gets 400 `model_not_supported` naming it.
 */
import * as v from "valibot";
import { OpenAIError } from "../protocol/errors.ts";
import { dispatch, labels, type RoutedRequest } from "./dispatch.ts";
import { observeAnswer } from "./observe.ts";
import { bytesResponse } from "./render.ts";

/** `POST /v1/embeddings` body: `model` and `input` checked, everything else (dimensions, encoding_format...) kept. */
export const EmbeddingsRequestSchema = v.looseObject({
  model: v.pipe(v.string(), v.minLength(1)),
  input: v.union([v.string(), v.array(v.string()), v.array(v.number()), v.array(v.array(v.number()))]),
  encoding_format: v.nullish(v.picklist(["float", "base64"])),
  dimensions: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(1))),
  user: v.nullish(v.string()),
});

/** Answers an embeddings request along the part of its plan that serves embeddings. */
export async function embeddings(body: Record<string, unknown>, routed: RoutedRequest): Promise<Response> {
  routed.run?.describe(String(body.model), false);
  const plan = routed.plan.filter((entry) => entry.backend.embeddings !== undefined);
  if (plan.length === 0) {
    throw new OpenAIError(400, `The model '${String(body.model)}' does not serve embeddings.`, {
      param: "model",
      code: "model_not_supported",
    });
  }
  const { answer, entry } = await dispatch({ ...routed, plan }, (entry, ctx) => entry.backend.embeddings!(body, ctx));
  return bytesResponse(observeAnswer(answer, routed.run), labels(entry));
}
