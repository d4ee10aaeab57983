/**
 * Planning a model across the ranks of a ring cluster (issue 17; reference/odyssai-x-wire.md §6.4, "Preflight"): which
 * parallel modes a model allows on N ranks, how a pipeline splits its layers by each node's memory budget, and
 * whether the shares fit. Pure: the facts come from the model's `config.json` and the nodes' telemetry
 * (./node-facts.ts), the answers go to `POST /admin/clusters/{id}/load` and `GET …/load-options`.
 *
 * - pipeline: rank r holds a contiguous slice of layers — rank N−1 the first, rank 0 the last, as the engine runs
 *   the stages (src/engine/model/parallel.ts) — in proportion to its node's budget; needs `num_hidden_layers ≥ N`.
 * - tensor: every rank holds 1/N of each layer's attention heads and MLP columns/rows (mlx-lm's `shard`); needs
 *   `num_attention_heads`, `num_key_value_heads` and `intermediate_size` divisible by N.
 * - fit (OdyssAI-X's margins): the whole model × 1.15 within the sum of the budgets, and each rank's share × 1.10
 *   within its own node's budget. A pipeline share is the model's bytes × the rank's layers / all layers (embeddings
 *   and the output head spread with the layers: an approximation that errs by at most their size); a tensor share is
 *   the model's bytes / N.
 */

import { stageLayers } from "../../engine/model/stages.ts";

/** The model architectures Ithaca's engine runs across ranks (src/engine/model/architectures/). */
export const RING_ARCHITECTURES: ReadonlySet<string> = new Set(["llama", "mistral", "qwen2", "qwen3"]);

/** Parallel modes. */
export const RING_MODES = ["pipeline", "tensor"] as const;
export type RingMode = (typeof RING_MODES)[number];

/** Headroom on the whole model against the cluster's total budget (OdyssAI-X: size × 1.15). */
export const TOTAL_MARGIN = 1.15;
/** Headroom on each rank's share against its node's budget (OdyssAI-X: size / N × 1.10). */
export const RANK_MARGIN = 1.1;

/** What planning needs of a model: its `config.json` fields and its weights' size. */
export interface RingModelFacts {
  /** `model_type` (`llama`, `qwen3`…). */
  modelType: string;
  /** `num_hidden_layers`. */
  layers: number;
  /** `num_attention_heads`. */
  heads: number;
  /** `num_key_value_heads` (= `heads` when the config has none). */
  kvHeads: number;
  /** `intermediate_size` (MLP width). */
  intermediateSize: number;
  /** Size of its weight files, in bytes. */
  bytes: number;
}

/** Why a plan is refused: the error code the load answers with (400) and a reason naming the numbers. */
export interface PlanRefusal {
  code: "invalid_mode_for_model" | "model_too_big_for_cluster";
  reason: string;
}

/** One rank of an accepted plan. */
export interface RankShare {
  rank: number;
  /** Layers `[start, end)` the rank computes (tensor: all of them, each sharded). */
  layers: [number, number];
  /** Weight bytes the rank holds (its share before the margin). */
  bytes: number;
  /** The node's memory budget, in bytes. */
  budgetBytes: number;
}

/** An accepted plan: one share per rank, in rank order. */
export interface RingPlan {
  mode: RingMode;
  ranks: RankShare[];
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;

/**
 * Whether `mode` can run `model` on `n` ranks at all (memory aside).
 * @returns the refusal (`invalid_mode_for_model`), or undefined when it can.
 */
export function checkMode(model: RingModelFacts, mode: RingMode, n: number): PlanRefusal | undefined {
  const refuse = (reason: string): PlanRefusal => ({ code: "invalid_mode_for_model", reason });
  if (!RING_ARCHITECTURES.has(model.modelType)) {
    return refuse(
      `model_type '${model.modelType}' cannot run across ranks (supported: ${[...RING_ARCHITECTURES].join(", ")})`,
    );
  }
  if (!Number.isInteger(n) || n < 1) return refuse(`a cluster load needs at least 1 node, got ${n}`);
  if (mode === "pipeline" && model.layers < n) {
    return refuse(`pipeline on ${n} ranks needs at least ${n} layers; the model has ${model.layers}`);
  }
  if (mode === "tensor") {
    const fields: Array<[string, number]> = [
      ["num_attention_heads", model.heads],
      ["num_key_value_heads", model.kvHeads],
      ["intermediate_size", model.intermediateSize],
    ];
    const bad = fields.find(([, value]) => value % n !== 0);
    if (bad) return refuse(`tensor on ${n} ranks needs ${bad[0]} divisible by ${n}; the model has ${bad[1]}`);
  }
  return undefined;
}

/**
 * Plans `model` in `mode` over nodes with the given budgets (rank order).
 * @returns the plan, or the refusal: `invalid_mode_for_model` ({@link checkMode}) or `model_too_big_for_cluster`
 *   (the total or a rank's share past its budget, both with their margins).
 */
export function planRing(model: RingModelFacts, mode: RingMode, budgets: readonly number[]): RingPlan | PlanRefusal {
  const n = budgets.length;
  const invalid = checkMode(model, mode, n);
  if (invalid) return invalid;
  const tooBig = (reason: string): PlanRefusal => ({ code: "model_too_big_for_cluster", reason });
  const total = budgets.reduce((sum, b) => sum + b, 0);
  if (model.bytes * TOTAL_MARGIN > total) {
    return tooBig(`${gib(model.bytes)} × ${TOTAL_MARGIN} exceeds the ${n} nodes' budget of ${gib(total)}`);
  }
  const slices: Array<[number, number]> =
    mode === "pipeline" ? stageLayers(model.layers, budgets) : budgets.map(() => [0, model.layers]);
  const ranks = slices.map(([start, end], rank): RankShare => {
    const bytes = mode === "pipeline" ? (model.bytes * (end - start)) / model.layers : model.bytes / n;
    return { rank, layers: [start, end], bytes: Math.ceil(bytes), budgetBytes: budgets[rank] as number };
  });
  const over = ranks.find((share) => share.bytes * RANK_MARGIN > share.budgetBytes);
  if (over) {
    return tooBig(
      `rank ${over.rank}'s share, ${gib(over.bytes)} × ${RANK_MARGIN}, exceeds its node's budget of ${gib(over.budgetBytes)}`,
    );
  }
  return { mode, ranks };
}

/** Whether {@link planRing} refused. */
export function isRefusal(plan: RingPlan | PlanRefusal): plan is PlanRefusal {
  return "code" in plan;
}

/** One choice of `GET /admin/clusters/{id}/load-options`. */
export interface LoadOption {
  /** How many nodes: the first `nodes` of the cluster, in rank order. */
  nodes: number;
  mode: RingMode;
  fits: boolean;
  /** Why not, when it does not fit. */
  reason?: string;
  code?: PlanRefusal["code"];
  /** Each rank's layers and bytes, when it fits. */
  ranks?: RankShare[];
}

/**
 * Every (nodes, mode) choice for `model` on a cluster whose nodes have `budgets` (rank order): 1..N nodes, each
 * mode, with whether it fits and why not.
 */
export function loadOptions(model: RingModelFacts, budgets: readonly number[]): LoadOption[] {
  const options: LoadOption[] = [];
  for (let nodes = 1; nodes <= budgets.length; nodes++) {
    for (const mode of RING_MODES) {
      const plan = planRing(model, mode, budgets.slice(0, nodes));
      options.push(
        isRefusal(plan)
          ? { nodes, mode, fits: false, reason: plan.reason, code: plan.code }
          : { nodes, mode, fits: true, ranks: plan.ranks },
      );
    }
  }
  return options;
}
