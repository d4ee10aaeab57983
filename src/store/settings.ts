/**
 * Operator settings (`GET|PUT /admin/settings`; odyssai-x-wire §1.2): defaults the operator sets at runtime, kept in
 * the `settings` table (one JSON value per key) and read from memory on the request path.
 *
 * - `enable_thinking_default` (`true`, `false` or `null`): what a request to the local engine that does not send
 *   `enable_thinking` gets (OdyssAI-X: "null means the server default"). `null`, the default: nothing is added, the
 *   model's chat template decides. Upstreams get what the client sent: a cloud API rejects the unknown field.
 *
 * Stored values that no longer validate (written by another version) are ignored with a warning, never fatal.
 */
import * as v from "valibot";

/** The body of `PUT /admin/settings`: every field optional; a field absent is left as it is. */
export const SettingsPatchSchema = v.strictObject({
  enable_thinking_default: v.optional(v.nullable(v.boolean("must be true, false or null"))),
});

/** A settings change, as validated. */
export type SettingsPatch = v.InferOutput<typeof SettingsPatchSchema>;

/** The effective settings: every key, defaults filled. */
export interface EffectiveSettings {
  enable_thinking_default: boolean | null;
}

/** Defaults of every setting. */
export const DEFAULT_SETTINGS: Readonly<EffectiveSettings> = { enable_thinking_default: null };

/** The part of the store settings live in (src/store/store.ts). */
export interface SettingsStore {
  settings(): Record<string, unknown>;
  putSettings(values: Record<string, unknown>): void;
}

/** The operator settings over the store, cached in memory (see the module comment). */
export class OperatorSettings {
  private current: EffectiveSettings;

  constructor(private readonly store: SettingsStore) {
    this.current = { ...DEFAULT_SETTINGS };
    const stored = store.settings();
    for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof EffectiveSettings)[]) {
      if (!(key in stored)) continue;
      const checked = v.safeParse(SettingsPatchSchema, { [key]: stored[key] });
      if (checked.success) Object.assign(this.current, checked.output);
      else console.warn(`[ithaca] setting '${key}' in the database is not valid here; using its default`);
    }
  }

  /** The effective settings (a copy). */
  values(): EffectiveSettings {
    return { ...this.current };
  }

  /** `enable_thinking` for a local request that does not say; undefined: add nothing. */
  get enableThinkingDefault(): boolean | undefined {
    return this.current.enable_thinking_default ?? undefined;
  }

  /**
   * Applies a validated change: stored in one transaction (committed when this returns), then in effect.
   * @returns the effective settings after the change.
   * @throws Error from SQLite when the write fails (nothing changes then).
   */
  update(patch: SettingsPatch): EffectiveSettings {
    const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
    if (Object.keys(changes).length > 0) this.store.putSettings(changes);
    Object.assign(this.current, changes);
    return this.values();
  }
}
