/**
 * The one digest of presented secrets (API keys, the admin token, crew tokens): SHA-256 of their UTF-8 bytes. Secrets
 * are stored and compared only as digests: equal-length buffers for `crypto.timingSafeEqual`, hex as lookup keys.
 */
import { createHash } from "node:crypto";

/** SHA-256 of `secret` (UTF-8), 32 bytes. */
export function secretDigest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}
