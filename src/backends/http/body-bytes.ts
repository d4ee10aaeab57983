/**
 * Reading what an upstream sends without holding more of it than needed: the first and last kilobytes of a relayed
 * stream (where usage is), a bounded read of an error body, and the cheapest check that a body is a JSON object.
 */

/** UTF-8 decoding of whole byte arrays (stateless between calls, so shared). */
const UTF8 = new TextDecoder();

/** Bytes of a relayed stream's start and end kept for {@link RelayEnds} (usage lives there). */
const KEPT_EDGE_BYTES = 8 * 1024;

/** The first and last 8 KiB of a relayed stream (less when it is shorter), decoded, seen when it ended normally. */
export interface RelayEnds {
  readonly head: string;
  readonly tail: string;
}

export /** Keeps the first and the last {@link KEPT_EDGE_BYTES} of a byte stream without copying what passes between. */
class EdgeKeeper {
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private tail: Uint8Array[] = [];
  private tailBytes = 0;

  add(bytes: Uint8Array): void {
    if (this.headBytes < KEPT_EDGE_BYTES) {
      const take = bytes.subarray(0, KEPT_EDGE_BYTES - this.headBytes);
      this.head.push(take);
      this.headBytes += take.byteLength;
    }
    this.tail.push(bytes);
    this.tailBytes += bytes.byteLength;
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.byteLength ?? 0) >= KEPT_EDGE_BYTES) {
      this.tailBytes -= this.tail.shift()?.byteLength ?? 0;
    }
  }

  /**
   * The kept edges, each decoded when first read (a reader of the tail alone never pays for the head); a character cut
   * at an edge decodes as U+FFFD.
   */
  ends(): RelayEnds {
    let head: string | undefined;
    let tail: string | undefined;
    const headParts = this.head;
    const tailParts = this.tail;
    return {
      get head() {
        head ??= UTF8.decode(joined(headParts));
        return head;
      },
      get tail() {
        if (tail === undefined) {
          const bytes = joined(tailParts);
          tail = UTF8.decode(bytes.subarray(Math.max(0, bytes.byteLength - KEPT_EDGE_BYTES)));
        }
        return tail;
      },
    };
  }
}

/** `parts` as one array: the part itself when there is one (no copy). */
function joined(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
}

export /** Whether `body` starts (after whitespace) with `{`. */
function startsLikeJsonObject(body: Uint8Array): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b;
  }
  return false;
}

export /** Up to `limit` bytes of a response body as text; the rest is dropped (the read is cancelled). */
async function readCapped(response: Response, limit: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const part of response.body ?? []) {
      parts.push(part.byteLength > limit - total ? part.subarray(0, limit - total) : part);
      total += part.byteLength;
      if (total >= limit) break;
    }
  } catch {
    // What arrived is enough to quote.
  }
  return UTF8.decode(Buffer.concat(parts));
}
