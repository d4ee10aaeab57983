/**
 * Knowing when a response is over: its body sent to the end, failed, or cancelled by a client that went away. A
 * handler returns before a streamed body is sent (Elysia's `afterResponse` fires then too), so whatever must last as
 * long as the answer — a place among a key's requests at once — is given back here.
 */

/**
 * `response` with `onEnd` called once, when its body has been read to the end, failed, or was cancelled (at once
 * when it has no body). The status and headers are kept; the body bytes pass through unchanged.
 */
export function onResponseEnd(response: Response, onEnd: () => void): Response {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const body = response.body;
  if (body === null) {
    end();
    return response;
  }
  const reader = body.getReader();
  const relayed = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(relayed, { status: response.status, statusText: response.statusText, headers: response.headers });
}
