/**
 * Which API key an upstream added at runtime (an enrolled engine, a cloud provider) uses, and how the admin API says
 * so without showing it: a key stored through the admin API (src/store/secrets.ts) first, then the environment
 * variable its `api_key_env` / `credential_env` names (reference/odyssai-x-wire.md §4 "Key handling").
 */
import { OpenAIError } from "../protocol/errors.ts";
import type { SecretStore } from "../store/secrets.ts";

/**
 * Where a key comes from: `stored` (the secrets file), `env` (the named environment variable), `config` (the
 * variable ithaca.yaml names, read at start: configured upstreams), `none` (requests go without one).
 */
export type KeySource = "stored" | "env" | "config" | "none";

/** A resolved key; `key` is never rendered, only `source`. */
export interface Credential {
  key: string | undefined;
  source: KeySource;
}

/** The secrets-file name of an enrolled engine's key. */
export const engineSecretName = (id: string): string => `engine:${id}`;
/** The secrets-file name of a cloud provider's key. */
export const providerSecretName = (id: string): string => `provider:${id}`;

/**
 * Resolves a key: `stored` when given (a key about to be stored, or the one in the secrets file), else the variable
 * `envName` names when it is set and not empty, else none.
 */
export function resolveCredential(
  stored: string | undefined,
  envName: string | null | undefined,
  env: Record<string, string | undefined>,
): Credential {
  if (stored) return { key: stored, source: "stored" };
  const fromEnv = envName ? env[envName] : undefined;
  return fromEnv ? { key: fromEnv, source: "env" } : { key: undefined, source: "none" };
}

/**
 * The stored key to use after an update: the new `apiKey` when one is given, none when `clear` is set, else what is
 * stored under `name` now.
 */
export function pendingStoredKey(
  secrets: SecretStore,
  name: string,
  update: { api_key?: string | null; clear_api_key?: boolean },
): string | undefined {
  if (update.api_key) return update.api_key;
  return update.clear_api_key ? undefined : secrets.get(name);
}

/**
 * Writes an update's key change to the secrets file: stores `api_key` when given, removes the stored key when
 * `clear_api_key` is set, leaves it otherwise.
 * @throws Error from the file system when the secrets file cannot be written.
 */
export function applyKeyUpdate(
  secrets: SecretStore,
  name: string,
  update: { api_key?: string | null; clear_api_key?: boolean },
): void {
  if (update.api_key) secrets.set(name, update.api_key);
  else if (update.clear_api_key) secrets.delete(name);
}

/** @throws OpenAIError 400 (`param: clear_api_key`) when an update both gives a key and clears it. */
export function checkKeyUpdate(update: { api_key?: string | null; clear_api_key?: boolean }): void {
  if (update.api_key && update.clear_api_key) {
    throw new OpenAIError(400, "api_key and clear_api_key cannot be combined: send one or the other", {
      code: "invalid_value",
      param: "clear_api_key",
    });
  }
}
