/**
 * The operator's request defaults (`PUT /admin/settings`, src/store/settings.ts) as a route applies them to the body a
 * backend gets: `enable_thinking_default` reaches the local engine when the request does not say (an upstream gets
 * what its client sent: a cloud API would reject the unknown field).
 */
import type { CatalogEntry } from "../catalog/catalog.ts";
import type { CanonicalChatRequest } from "../protocol/canonical.ts";

/** What routes read of the operator settings. */
export interface RequestDefaults {
  /** `enable_thinking` for a local request that does not say; undefined: nothing is added. */
  readonly enableThinkingDefault: boolean | undefined;
}

/** `body` as `entry`'s backend should get it (itself when no default applies). */
export function withDefaults(
  body: CanonicalChatRequest,
  entry: CatalogEntry,
  defaults: RequestDefaults | undefined,
): CanonicalChatRequest {
  const thinking = defaults?.enableThinkingDefault;
  if (thinking === undefined || entry.backend.kind !== "mlx" || body.enable_thinking != null) return body;
  return { ...body, enable_thinking: thinking };
}
