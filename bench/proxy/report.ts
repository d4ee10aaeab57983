/**
 * Results of `bench/proxy-overhead.ts`: one cell per target × mode × concurrency, the markdown table, and the
 * targets of issue 11 with pass/fail.
 */
import type { Mode } from "./load.ts";

/** `direct` is the client talking to the fixture itself (the zero point); `relay` is the floor. */
export type TargetName = "direct" | "relay" | "ithaca" | "litellm";

export interface Cell {
  target: TargetName;
  mode: Mode;
  concurrency: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** p50 / p99 minus the direct run's of the same mode and concurrency; 0 for direct. */
  p50AddedMs: number;
  p99AddedMs: number;
  /** CPU time (user + system) of the target's process tree over the run, per request; for direct, the fixture's. */
  cpuUsPerReq: number;
  /**
   * Of that, the target's JavaScript thread and Bun's HTTP client thread (a Bun target; LiteLLM's Python has neither:
   * its JavaScript column holds its main thread, its HTTP client column 0). The rest is JIT, GC and other threads.
   */
  jsUsPerReq: number;
  httpClientUsPerReq: number;
  /** The fixture's CPU per request during the same run. */
  fixtureCpuUsPerReq: number;
  /** cpuUsPerReq over the relay's of the same mode and concurrency; absent for direct. */
  cpuRatioToFloor?: number;
}

/** Fills the columns relative to the direct run (latency) and to the relay (CPU). */
export function relate(cells: Cell[]): void {
  const find = (t: TargetName, c: Cell) =>
    cells.find((x) => x.target === t && x.mode === c.mode && x.concurrency === c.concurrency);
  for (const c of cells) {
    const direct = find("direct", c);
    if (direct) {
      c.p50AddedMs = c.p50Ms - direct.p50Ms;
      c.p99AddedMs = c.p99Ms - direct.p99Ms;
    }
    const floor = find("relay", c);
    if (c.target !== "direct" && floor && floor.cpuUsPerReq > 0) c.cpuRatioToFloor = c.cpuUsPerReq / floor.cpuUsPerReq;
  }
}

const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "—");
const signed = (x: number, digits: number) => (x >= 0 ? `+${f(x, digits)}` : f(x, digits));

const LABEL: Record<TargetName, string> = {
  direct: "direct (zero point)",
  relay: "relay (floor)",
  ithaca: "Ithaca",
  litellm: "LiteLLM",
};

export function markdownTable(cells: Cell[]): string {
  const lines = [
    "| target | mode | conc. | req/s | p50 ms | p99 ms | p50 added ms | p99 added ms | CPU µs/req | CPU × floor | JS thread µs | HTTP client µs |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const c of cells) {
    const direct = c.target === "direct";
    lines.push(
      `| ${LABEL[c.target]} | ${c.mode} | ${c.concurrency} | ${f(c.rps, 0)} | ${f(c.p50Ms, 3)} | ${f(c.p99Ms, 3)} | ` +
        `${direct ? "—" : signed(c.p50AddedMs, 3)} | ${direct ? "—" : signed(c.p99AddedMs, 3)} | ${f(c.cpuUsPerReq, 0)}${direct ? " (fixture)" : ""} | ` +
        `${c.cpuRatioToFloor === undefined ? "—" : `${f(c.cpuRatioToFloor, 2)}×`} | ` +
        `${direct ? "—" : f(c.jsUsPerReq, 0)} | ${direct ? "—" : f(c.httpClientUsPerReq, 0)} |`,
    );
  }
  return lines.join("\n");
}

export interface TargetCheck {
  name: string;
  pass: boolean | null;
  detail: string;
}

/** Issue 11's targets for Ithaca: CPU per proxied request ≤ 2× the floor's; added p50 at concurrency 1 ≤ 0.1 ms. */
export function checkTargets(cells: Cell[]): TargetCheck[] {
  const ithaca = cells.filter((c) => c.target === "ithaca");
  const ratios = ithaca.flatMap((c) => (c.cpuRatioToFloor === undefined ? [] : [{ c, ratio: c.cpuRatioToFloor }]));
  const c1 = ithaca.filter((c) => c.concurrency === 1);
  const verdict = (ok: boolean[]) => (ok.length === 0 ? null : ok.every(Boolean));
  return [
    {
      name: "CPU per proxied request ≤ 2× the floor's",
      pass: verdict(ratios.map(({ ratio }) => ratio <= 2)),
      detail: ratios.map(({ c, ratio }) => `${c.mode} c${c.concurrency} ${f(ratio, 2)}×`).join(", ") || "not measured",
    },
    {
      name: "added p50 at concurrency 1 ≤ 0.1 ms",
      pass: verdict(c1.map((c) => c.p50AddedMs <= 0.1)),
      detail:
        c1
          .map((c) => {
            const floor = cells.find((x) => x.target === "relay" && x.mode === c.mode && x.concurrency === 1);
            return `${c.mode} ${signed(c.p50AddedMs, 3)} ms${floor ? ` (the floor's: ${signed(floor.p50AddedMs, 3)} ms)` : ""}`;
          })
          .join(", ") || "concurrency 1 not measured",
    },
  ];
}

export function formatChecks(checks: TargetCheck[]): string {
  return checks
    .map((t) => `- ${t.name}: ${t.pass === null ? "not measured" : t.pass ? "**pass**" : "**FAIL**"} (${t.detail})`)
    .join("\n");
}
