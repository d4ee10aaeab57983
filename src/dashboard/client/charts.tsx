/**
 * Time charts drawn with uPlot (bundled, no CDN): one series per model over a shared time axis that always shows at
 * least the last five minutes up to now. Counts are drawn as stacked bars. The chart reads its colours from the page's
 * CSS variables, so it follows the light and dark themes (it is drawn again when the theme changes).
 */
import { useEffect, useMemo, useRef } from "preact/hooks";
import uPlot from "uplot";

/** Colours of the series, in order (readable on both themes). */
const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"];

/** One chart's data: x in unix seconds, one y array per series (null: no point there). */
export interface ChartData {
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
}

/** The shortest time span shown, in seconds. */
const MIN_SPAN_S = 300;

/**
 * The x range: the data's first and last times (read from the data: with one point uPlot would pass a range of a
 * thousand days), widened to at least the last {@link MIN_SPAN_S} seconds up to now, with a margin.
 */
function timeRange(x: ArrayLike<number>): [number, number] {
  const now = Date.now() / 1000;
  const low = Math.min(x.length > 0 ? (x[0] as number) : now, now - MIN_SPAN_S);
  const high = Math.max(x.length > 0 ? (x[x.length - 1] as number) : now, now);
  const margin = (high - low) * 0.03;
  return [low - margin, high + margin];
}

/**
 * Bars stacked: each series' values summed with those before it, the series in reverse order so that the tallest
 * (the sum of all) is drawn first and each one below it over it.
 */
function stacked(data: ChartData): ChartData {
  const sums = new Array<number>(data.x.length).fill(0);
  const series = data.series.map((s) => ({
    label: s.label,
    values: s.values.map((value, i) => {
      sums[i] = (sums[i] ?? 0) + (value ?? 0);
      return sums[i] ?? 0;
    }),
  }));
  return { x: data.x, series: series.reverse() };
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/**
 * A uPlot time chart.
 * @param kind `points` (one dot per request, joined) or `bars` (counts per bucket)
 * @param theme the theme in effect (the chart is rebuilt when it changes)
 */
export function TimeChart({
  title,
  unit,
  data,
  kind,
  theme,
  height = 190,
}: {
  title: string;
  unit: string;
  data: ChartData;
  kind: "points" | "bars";
  theme: string;
  height?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const shown = useMemo(() => (kind === "bars" ? stacked(data) : data), [data, kind]);
  const labels = shown.series.map((s) => s.label).join("\n");
  // Colours follow the data's order (the legend of stacked bars lists them top of the stack first).
  const colour = (label: string) => PALETTE[data.series.findIndex((s) => s.label === label) % PALETTE.length] as string;

  // Built again when the series or the theme change; otherwise only the data is replaced.
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const text = cssVar("--text-muted") || "#888";
    const grid = cssVar("--grid") || "rgba(128,128,128,0.2)";
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const bars = uPlot.paths.bars?.({ size: [0.8, 24], gap: 1 });
    const options: uPlot.Options = {
      width: Math.max(240, element.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: { time: true, range: (u) => timeRange(u.data[0]) },
        // Counts start at 0 (uPlot would start the axis at the smallest count).
        ...(kind === "bars" ? { y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] } } : {}),
      },
      axes: [axis, { ...axis, label: unit, labelSize: 18, size: 52 }],
      series: [
        {},
        ...shown.series.map((s) => {
          const color = colour(s.label);
          return kind === "bars"
            ? { label: s.label, stroke: color, fill: `${color}99`, width: 1, paths: bars, points: { show: false } }
            : {
                label: s.label,
                stroke: color,
                width: 1.5,
                spanGaps: true,
                points: { show: true, size: 5, fill: color },
              };
        }),
      ],
    };
    const plot = new uPlot(options, toAligned(shown), element);
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [labels, theme, kind, height, unit]);

  useEffect(() => {
    chart.current?.setData(toAligned(shown));
  }, [shown]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {data.x.length === 0 ? <div class="chart-empty">No requests in the log yet.</div> : null}
      <div ref={host} class="chart-host" />
    </figure>
  );
}

function toAligned(data: ChartData): uPlot.AlignedData {
  return [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData;
}
