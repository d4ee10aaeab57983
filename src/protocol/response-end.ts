/**
 * Knowing when a body is over: sent to the end, failed, or cancelled by a client that went away. A handler returns
 * before a streamed body is sent (Elysia's `afterResponse` fires then too), so whatever must last as long as the
 * answer — a run's end, a place among a key's requests at once — is settled here.
 */

/** How a body ended: read to the end, failed with `error`, or cancelled (the client went away). */
export type BodyEnd = { kind: "done" } | { kind: "error"; error: unknown } | { kind: "cancelled" };

/**
 * `body` passed on unchanged, with `onEnd` called once when it has been read to the end, failed, or was cancelled.
 */
export function onBodyEnd(body: ReadableStream<Uint8Array>, onEnd: (end: BodyEnd) => void): ReadableStream<Uint8Array> {
  let ended = false;
  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how);
  };
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end({ kind: "done" });
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end({ kind: "error", error });
        controller.error(error);
      }
    },
    cancel(reason) {
      end({ kind: "cancelled" });
      return reader.cancel(reason);
    },
  });
}

/**
 * `response` with `onEnd` called once, when its body has ended however it ended (at once when it has no body). The
 * status and headers are kept; the body bytes pass through unchanged.
 */
export function onResponseEnd(response: Response, onEnd: () => void): Response {
  if (response.body === null) {
    onEnd();
    return response;
  }
  return new Response(onBodyEnd(response.body, onEnd), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
