/**
 * Anthropic client requests that cannot be translated to canonical form and what the request schema rejects: a 400
 * naming the field. Canonical requests an Anthropic upstream cannot take are in
 * test/backends/anthropic/request-refusals.test.ts.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { MessagesRequestSchema } from "../../src/protocol/anthropic.ts";
import { validationError } from "../../src/protocol/errors.ts";
import { messagesToChat } from "../../src/translate/anthropic-request.ts";
import { parse, thrown, user } from "./anthropic-fixtures.ts";

/** Anthropic requests Ithaca cannot translate: a 400 naming the field. */
const refusals: Array<{ name: string; run: () => unknown; param: string }> = [
  {
    name: "Anthropic document block",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [
            user([
              { type: "text", text: "Sum up" },
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } },
            ]),
          ],
        }),
      ),
    param: "messages.0.content.1",
  },
  {
    name: "Anthropic server tool (web search)",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [user("x")],
          tools: [{ type: "web_search_20250305", name: "web_search" }],
        }),
      ),
    param: "tools.0.type",
  },
  {
    name: "Anthropic Files-API image",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [user([{ type: "image", source: { type: "file", file_id: "file_1" } }])],
        }),
      ),
    param: "messages.0.content.0.source",
  },
  {
    name: "Anthropic tool_use block in a user turn",
    run: () =>
      messagesToChat(
        parse({ model: "m", max_tokens: 10, messages: [user([{ type: "tool_use", id: "t", name: "f", input: {} }])] }),
      ),
    param: "messages.0.content.0",
  },
  {
    name: "Anthropic image in an assistant turn",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [
            user("x"),
            { role: "assistant", content: [{ type: "image", source: { type: "url", url: "https://a/b.png" } }] },
          ],
        }),
      ),
    param: "messages.1.content.0",
  },
];

describe("refused with a 400 naming the field", () => {
  test.each(refusals.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const error = thrown(c.run);
    expect(error.status).toBe(400);
    expect(error.param).toBe(c.param);
  });
});

describe("MessagesRequestSchema", () => {
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["max_tokens missing", { model: "m", messages: [user("x")] }, "max_tokens"],
    ["max_tokens 0", { model: "m", max_tokens: 0, messages: [user("x")] }, "max_tokens"],
    ["temperature above 1", { model: "m", max_tokens: 5, temperature: 1.5, messages: [user("x")] }, "temperature"],
    ["empty messages", { model: "m", max_tokens: 5, messages: [] }, "messages"],
    [
      "system role in messages",
      { model: "m", max_tokens: 5, messages: [{ role: "system", content: "x" }] },
      "messages.0.role",
    ],
    [
      "client tool without input_schema",
      { model: "m", max_tokens: 5, messages: [user("x")], tools: [{ name: "f" }] },
      "tools.0.input_schema",
    ],
    [
      "tool_choice tool without name",
      { model: "m", max_tokens: 5, messages: [user("x")], tool_choice: { type: "tool" } },
      "tool_choice.name",
    ],
  ];
  test.each(invalid)("rejects %s (param %s)", (_name, body, param) => {
    expect(v.safeParse(MessagesRequestSchema, body).success).toBe(false);
    expect(validationError(MessagesRequestSchema, body).param).toBe(param);
  });

  test("keeps unknown fields and accepts typed server tools", () => {
    const body = {
      model: "m",
      max_tokens: 5,
      messages: [user("x")],
      tools: [{ type: "bash_20250124", name: "bash" }],
      x_custom: { a: 1 },
    };
    expect(v.parse(MessagesRequestSchema, body)).toEqual(body as never);
  });
});
