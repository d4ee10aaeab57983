/**
 * Turns the per-run results of two sides (Ithaca and mlx-lm in `bench/tokens-per-sec.ts`, cache hit and cold in
 * `bench/prefix-cache.ts`) into a markdown table: medians, the ratio of the first side to the second, the target and
 * whether it is met.
 */
import type { EngineRun } from "./result.ts";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A row of the table: how to read a metric off a run of type `R` and what the ratio should be. */
export interface Metric<R> {
  name: string;
  get: (r: R) => number;
  /** Target on the ratio first side / second side; undefined = reported only. */
  target?: { op: "≥" | "≤"; value: number };
}

const MIB = 2 ** 20;

/** The rows of `bench/tokens-per-sec.ts` (first side Ithaca, second mlx-lm). */
export const METRICS: readonly Metric<EngineRun>[] = [
  { name: "prefill tok/s (higher is better)", get: (r) => r.prefill_tps, target: { op: "≥", value: 1.0 } },
  { name: "decode tok/s (higher is better)", get: (r) => r.decode_tps, target: { op: "≥", value: 1.0 } },
  { name: "time to first token ms (lower is better)", get: (r) => r.ttft_s * 1000 },
  { name: "peak RSS MiB (lower is better)", get: (r) => r.peak_rss_bytes / MIB, target: { op: "≤", value: 1.1 } },
  { name: "MLX peak memory MiB (lower is better)", get: (r) => r.mlx_peak_bytes / MIB },
  { name: "load s (lower is better)", get: (r) => r.load_s },
];

export interface Row {
  metric: string;
  /** Median of the first side (Ithaca; cache hit). */
  a: number;
  /** Median of the second side (mlx-lm; cold). */
  b: number;
  /** `a / b`. */
  ratio: number;
  /** Run-to-run spread, the larger of the two sides': (max − min) / median. */
  spread: number;
  target: string;
  met: boolean | undefined;
  /** A missed target by less than `spread`: the runs cannot tell the engines apart. */
  withinNoise: boolean;
}

/** (max − min) / median of `xs`. */
export function relativeSpread(xs: number[]): number {
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}

/** Median of each metric per side, the ratio first / second and the verdict. */
export function summarize<R>(metrics: readonly Metric<R>[], first: R[], second: R[]): Row[] {
  return metrics.map((m) => {
    const xs = first.map(m.get);
    const ys = second.map(m.get);
    const ratio = median(xs) / median(ys);
    const spread = Math.max(relativeSpread(xs), relativeSpread(ys));
    const t = m.target;
    const met = t ? (t.op === "≥" ? ratio >= t.value : ratio <= t.value) : undefined;
    return {
      metric: m.name,
      a: median(xs),
      b: median(ys),
      ratio,
      spread,
      target: t ? `${t.op} ${t.value.toFixed(1)}×` : "—",
      met,
      withinNoise: met === false && Math.abs(ratio - t!.value) <= spread,
    };
  });
}

/** 4 significant digits, or a whole number from 1000 up (25133, 571.9, 2.431, 0.1612). */
export function formatValue(x: number): string {
  return Math.abs(x) >= 1000 ? x.toFixed(0) : String(Number(x.toPrecision(4)));
}

/** The "met?" cell: `yes`, `NO`, `no (within run spread)`, or `—` without a target. */
export function verdict(r: Row): string {
  if (r.met === undefined) return "—";
  if (r.met) return "yes";
  return r.withinNoise ? "no (within run spread)" : "NO";
}

/** The rows as a markdown table; `columns` names the two sides (e.g. `["Ithaca", "mlx-lm"]`). */
export function markdownTable(rows: Row[], columns: [string, string]): string {
  const [a, b] = columns;
  const lines = [
    `| metric | ${a} | ${b} | ratio (${a}/${b}) | run spread | target | met? |`,
    "|---|---:|---:|---:|---:|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.metric} | ${formatValue(r.a)} | ${formatValue(r.b)} | ${r.ratio.toFixed(3)}× | ${(r.spread * 100).toFixed(1)}% | ` +
        `${r.target} | ${verdict(r)} |`,
    ),
  ];
  return lines.join("\n");
}

/**
 * Whether every run generated the same greedy tokens (ids, or token strings); names the first run that differs from
 * the first run, by `label`, otherwise.
 */
export function tokenAgreement<R extends { tokens: readonly (number | string)[] }>(
  runs: R[],
  label: (r: R) => string,
): string {
  const ref = runs[0]!.tokens;
  for (const r of runs) {
    const i = r.tokens.findIndex((t, k) => t !== ref[k]);
    if (i >= 0 || r.tokens.length !== ref.length) {
      return `NO — ${label(r)} differs at token ${i >= 0 ? i : Math.min(r.tokens.length, ref.length)}`;
    }
  }
  return `yes (${ref.length} tokens, all ${runs.length} runs)`;
}
