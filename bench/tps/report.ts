/**
 * Turns the per-run results of both engines into the markdown table of `bench/tokens-per-sec.ts`: medians, the ratio
 * Ithaca / mlx-lm, the target and whether it is met.
 */
import type { EngineRun } from "./result.ts";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A row of the table: how to read a metric off a run and what the ratio should be. */
interface Metric {
  name: string;
  get: (r: EngineRun) => number;
  /** Target on the ratio Ithaca / mlx-lm; undefined = reported only. */
  target?: { op: "≥" | "≤"; value: number };
}

const MIB = 2 ** 20;

export const METRICS: readonly Metric[] = [
  { name: "prefill tok/s (higher is better)", get: (r) => r.prefill_tps, target: { op: "≥", value: 1.0 } },
  { name: "decode tok/s (higher is better)", get: (r) => r.decode_tps, target: { op: "≥", value: 1.0 } },
  { name: "time to first token ms (lower is better)", get: (r) => r.ttft_s * 1000 },
  { name: "peak RSS MiB (lower is better)", get: (r) => r.peak_rss_bytes / MIB, target: { op: "≤", value: 1.1 } },
  { name: "MLX peak memory MiB (lower is better)", get: (r) => r.mlx_peak_bytes / MIB },
  { name: "load s (lower is better)", get: (r) => r.load_s },
];

export interface Row {
  metric: string;
  ithaca: number;
  mlxLm: number;
  ratio: number;
  /** Run-to-run spread, the larger of the two engines': (max − min) / median. */
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

/** Median of each metric per engine, the ratio and the verdict. */
export function summarize(ithaca: EngineRun[], mlxLm: EngineRun[]): Row[] {
  return METRICS.map((m) => {
    const xs = ithaca.map(m.get);
    const ys = mlxLm.map(m.get);
    const ratio = median(xs) / median(ys);
    const spread = Math.max(relativeSpread(xs), relativeSpread(ys));
    const t = m.target;
    const met = t ? (t.op === "≥" ? ratio >= t.value : ratio <= t.value) : undefined;
    return {
      metric: m.name,
      ithaca: median(xs),
      mlxLm: median(ys),
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

function verdict(r: Row): string {
  if (r.met === undefined) return "—";
  if (r.met) return "yes";
  return r.withinNoise ? "no (within run spread)" : "NO";
}

/** The rows as a markdown table. */
export function markdownTable(rows: Row[]): string {
  const lines = [
    "| metric | Ithaca | mlx-lm | ratio (Ithaca/mlx-lm) | run spread | target | met? |",
    "|---|---:|---:|---:|---:|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.metric} | ${formatValue(r.ithaca)} | ${formatValue(r.mlxLm)} | ${r.ratio.toFixed(3)}× | ${(r.spread * 100).toFixed(1)}% | ` +
        `${r.target} | ${verdict(r)} |`,
    ),
  ];
  return lines.join("\n");
}

/** Whether every run of both engines generated the same greedy tokens; names the first difference otherwise. */
export function tokenAgreement(runs: EngineRun[]): string {
  const ref = runs[0]!.tokens;
  for (const r of runs) {
    const i = r.tokens.findIndex((t, k) => t !== ref[k]);
    if (i >= 0 || r.tokens.length !== ref.length) {
      return `NO — ${r.engine} differs at token ${i >= 0 ? i : Math.min(r.tokens.length, ref.length)}`;
    }
  }
  return `yes (${ref.length} tokens, every run of both engines)`;
}
