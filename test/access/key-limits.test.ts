/**
 * An issued key's limits trip and recover (issue 13 item 5), on rate-limiter-flexible's real limiters with a 1 s
 * window instead of a minute: requests per minute, tokens per minute (charged after the answer), requests at once.
 */
import { expect, test } from "bun:test";
import type { IssuedKey } from "../../src/access/api-keys.ts";
import { KeyLimits } from "../../src/access/key-limits.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";

const key = (limits: Partial<IssuedKey>): IssuedKey => ({
  id: "key-000000000001",
  allows: () => true,
  rpm: null,
  tpm: null,
  maxConcurrent: null,
  ...limits,
});

test("requests per window: the third is refused with Retry-After, and admitted again after the window", async () => {
  const limits = new KeyLimits(1);
  const k = key({ rpm: 2 });
  expect(await limits.admit(k)).toBeFunction();
  expect(await limits.admit(k)).toBeFunction();
  const refused = await limits.admit(k);
  expect(refused).toBeInstanceOf(OpenAIError);
  expect((refused as OpenAIError).status).toBe(429);
  expect((refused as OpenAIError).headers["retry-after"]).toBe("1");
  await Bun.sleep(1100);
  expect(await limits.admit(k)).toBeFunction();
});

test("tokens per window: a spent budget refuses the next request until the window passes", async () => {
  const limits = new KeyLimits(1);
  const k = key({ tpm: 100 });
  expect(await limits.admit(k)).toBeFunction();
  await limits.spend(k, 150); // the answer that crossed the limit completed
  const refused = await limits.admit(k);
  expect((refused as OpenAIError).message).toContain("tokens per minute");
  await Bun.sleep(1100);
  expect(await limits.admit(k)).toBeFunction();
});

test("requests at once: a place comes back when released, once", async () => {
  const limits = new KeyLimits();
  const k = key({ maxConcurrent: 1 });
  const release = (await limits.admit(k)) as () => void;
  expect(await limits.admit(k)).toBeInstanceOf(OpenAIError);
  release();
  release(); // twice gives back one place only
  const again = (await limits.admit(k)) as () => void;
  expect(again).toBeFunction();
  expect(await limits.admit(k)).toBeInstanceOf(OpenAIError);
});
