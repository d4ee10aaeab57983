/** The Anthropic error shapes: status → type, error responses and stream events, an Anthropic upstream's errors. */
import { describe, expect, test } from "bun:test";
import {
  anthropicErrorBody,
  anthropicErrorType,
  anthropicStreamError,
  toAnthropicErrorResponse,
  upstreamAnthropicError,
} from "../../src/protocol/anthropic-errors.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";

describe("Anthropic error shapes", () => {
  const types: Array<[number, string]> = [
    [400, "invalid_request_error"],
    [401, "authentication_error"],
    [402, "billing_error"],
    [403, "permission_error"],
    [404, "not_found_error"],
    [409, "conflict_error"],
    [413, "request_too_large"],
    [422, "invalid_request_error"],
    [429, "rate_limit_error"],
    [500, "api_error"],
    [502, "api_error"],
    [503, "overloaded_error"],
    [504, "timeout_error"],
    [529, "overloaded_error"],
  ];
  test.each(types)("status %d → %s", (status, type) => {
    expect(anthropicErrorType(status)).toBe(type);
  });

  test("toAnthropicErrorResponse keeps the status and retry-after; body in Anthropic's shape", async () => {
    const error = new OpenAIError(429, "slow down", { headers: { "retry-after": "3" } });
    const response = toAnthropicErrorResponse(error, "req_1");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "slow down" },
      request_id: "req_1",
    });
  });

  test("anthropicErrorBody: no request_id unless given; an Anthropic type on the error is kept", () => {
    expect(anthropicErrorBody(new OpenAIError(400, "bad 'x'", { param: "x" }))).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "bad 'x'" },
    });
    expect(anthropicErrorBody(new OpenAIError(503, "busy", { type: "overloaded_error" }))).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "busy" },
    });
  });

  test("anthropicStreamError: OpenAIError by status, anything else api_error", () => {
    expect(anthropicStreamError(new OpenAIError(502, "upstream 'a' broke off"))).toEqual({
      event: "error",
      data: { type: "error", error: { type: "api_error", message: "upstream 'a' broke off" } },
    });
    expect(anthropicStreamError(new TypeError("boom"))).toEqual({
      event: "error",
      data: { type: "error", error: { type: "api_error", message: "stream aborted: boom" } },
    });
  });

  const upstream: Array<{
    name: string;
    status: number;
    body: string;
    headers?: Record<string, string>;
    expected: { status: number; message: string; type: string; code: string; headers: Record<string, string> };
  }> = [
    {
      name: "529 overloaded → 503 code overloaded",
      status: 529,
      body: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_9"}',
      expected: {
        status: 503,
        message: "upstream 'claude' returned 529: Overloaded",
        type: "overloaded_error",
        code: "overloaded",
        headers: {},
      },
    },
    {
      name: "429 keeps its status and retry-after",
      status: 429,
      body: JSON.stringify({
        type: "error",
        error: { type: "rate_limit_error", message: "Number of requests has exceeded your rate limit" },
      }),
      headers: { "retry-after": "12" },
      expected: {
        status: 429,
        message: "upstream 'claude' returned 429: Number of requests has exceeded your rate limit",
        type: "rate_limit_error",
        code: "upstream_error",
        headers: { "retry-after": "12" },
      },
    },
    {
      name: "400 invalid request keeps status and type",
      status: 400,
      body: '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}',
      expected: {
        status: 400,
        message: "upstream 'claude' returned 400: max_tokens: Field required",
        type: "invalid_request_error",
        code: "upstream_error",
        headers: {},
      },
    },
    {
      name: "a non-JSON 502 body is quoted, type from the status",
      status: 502,
      body: "<html>Bad Gateway</html>",
      expected: {
        status: 502,
        message: "upstream 'claude' returned 502: <html>Bad Gateway</html>",
        type: "api_error",
        code: "upstream_error",
        headers: {},
      },
    },
  ];
  test.each(upstream.map((c) => [c.name, c] as const))("upstreamAnthropicError: %s", (_name, c) => {
    const error = upstreamAnthropicError("claude", c.status, c.body, c.headers);
    expect({
      status: error.status,
      message: error.message,
      type: error.type,
      code: error.code,
      headers: error.headers,
    }).toEqual(c.expected);
  });

  test("an upstream 529 rendered back to an Anthropic client is a 503 overloaded_error", async () => {
    const error = upstreamAnthropicError(
      "claude",
      529,
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    );
    const response = toAnthropicErrorResponse(error);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "upstream 'claude' returned 529: Overloaded" },
    });
  });
});
