/**
 * How a pipeline splits a model's layers over the ranks of a ring (issue 17): contiguous slices in proportion to each
 * rank's memory budget, the stages in mlx-lm's reverse rank order — rank N−1 the first layers, rank 0 the last — as
 * the engine runs them (./parallel.ts). Pure: the fleet's preflight (src/fleet/ring/plan.ts) plans with it on the
 * main thread, a rank without a given slice computes its own with it.
 */

/**
 * Splits `layers` into contiguous slices, in order, in proportion to `budgets` (largest remainder), every slice at
 * least one layer.
 * @param budgets one per slice, all > 0 (bytes, or any common unit).
 * @returns `[start, end)` per slice, covering `0..layers` in order.
 * @throws RangeError when there are fewer layers than slices, or no slice.
 */
export function splitLayers(layers: number, budgets: readonly number[]): Array<[number, number]> {
  const n = budgets.length;
  if (n === 0 || layers < n) throw new RangeError(`cannot split ${layers} layers over ${n} ranks`);
  const total = budgets.reduce((sum, b) => sum + b, 0);
  // One layer each first, then the rest in proportion to the budgets.
  const rest = layers - n;
  const ideal = budgets.map((b) => (rest * b) / total);
  const counts = ideal.map((x) => 1 + Math.floor(x));
  let left = layers - counts.reduce((sum, c) => sum + c, 0);
  const byRemainder = ideal
    .map((x, rank) => ({ rank, remainder: x - Math.floor(x) }))
    .sort((a, b) => b.remainder - a.remainder || a.rank - b.rank);
  for (const { rank } of byRemainder) {
    if (left === 0) break;
    counts[rank] = (counts[rank] as number) + 1;
    left--;
  }
  const slices: Array<[number, number]> = [];
  let start = 0;
  for (const count of counts) {
    slices.push([start, start + count]);
    start += count;
  }
  return slices;
}

/**
 * The layers `[start, end)` of each rank of a pipeline, in rank order: the stages take slices in proportion to their
 * ranks' budgets, stage s on rank N−1−s.
 * @param budgets each rank's memory budget, in rank order (all > 0; equal budgets: an even split, the first stages
 *   one layer longer when it is not exact).
 * @throws RangeError when there are fewer layers than ranks, or no rank.
 */
export function stageLayers(layers: number, budgets: readonly number[]): Array<[number, number]> {
  return splitLayers(layers, [...budgets].reverse()).reverse();
}
