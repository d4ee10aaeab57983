/**
 * Shared pieces of the dashboard's pages: formatting, badges, a usage bar, error notes, a confirm-twice button.
 * Every value is rendered as text by Preact (escaped); nothing here builds HTML from strings.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `1536` → `1.5 KiB`; null → `—`. */
export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  let n = value;
  let unit = 0;
  while (Math.abs(n) >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${unit === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** A number with at most `digits` decimals; null → `—`. */
export function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** Milliseconds as `850 ms`, `2.4 s`, `3 min`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** How long ago `at` (ms, or an ISO string) was, from `now`. */
export function ago(at: number | string | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return "—";
  const ms = typeof at === "string" ? Date.parse(at) : at;
  if (!Number.isFinite(ms)) return "—";
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** `12:04:05` of a time (ms or ISO). */
export function clock(at: number | string): string {
  const date = new Date(at);
  return date.toLocaleTimeString("en-GB", { hour12: false });
}

export type Tone = "ok" | "warn" | "bad" | "muted" | "info";

/** A small coloured label. */
export function Badge({ tone, children, title }: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** A horizontal bar: `used` of `total`, with its text. */
export function UsageBar({ used, total, label }: { used: number; total: number; label: string }) {
  const share = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const tone = share > 0.9 ? "bad" : share > 0.7 ? "warn" : "ok";
  return (
    <div class="usage">
      <div class="usage-track" aria-hidden="true">
        <div class={`usage-fill usage-${tone}`} style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      <div class="usage-text">{label}</div>
    </div>
  );
}

/** An error to read, or nothing. */
export function ErrorNote({ error, onClose }: { error: Error | undefined | null; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div class="note note-bad" role="alert">
      <span>{error.message}</span>
      {onClose && (
        <button type="button" class="link" onClick={onClose}>
          dismiss
        </button>
      )}
    </div>
  );
}

/** A titled block of a page. */
export function Card({
  title,
  actions,
  children,
  id,
}: {
  title: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="card" id={id} aria-label={typeof title === "string" ? title : undefined}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions && <div class="card-actions">{actions}</div>}
      </header>
      <div class="card-body">{children}</div>
    </section>
  );
}

/**
 * A button that asks once more before a destructive action: the first click arms it ("Sure?"), a second within 4 s
 * runs it.
 */
export function ConfirmButton({
  label,
  confirm = "Sure?",
  onConfirm,
  disabled,
  title,
}: {
  label: string;
  confirm?: string;
  onConfirm: () => void;
  disabled?: boolean;
  title?: string;
}) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), 4000);
    return () => clearTimeout(timer);
  }, [armed]);
  return (
    <button
      type="button"
      class={armed ? "danger armed" : "danger"}
      disabled={disabled}
      title={title}
      onClick={() => {
        if (!armed) return setArmed(true);
        setArmed(false);
        onConfirm();
      }}
    >
      {armed ? confirm : label}
    </button>
  );
}

/** A table's empty state. */
export function Empty({ cols, children }: { cols: number; children: ComponentChildren }) {
  return (
    <tr>
      <td colSpan={cols} class="empty">
        {children}
      </td>
    </tr>
  );
}

/** A definition list of label → value pairs. */
export function Facts({ items }: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
