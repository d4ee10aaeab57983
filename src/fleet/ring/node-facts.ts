/**
 * What a ring cluster's load needs to know of each node, read over SSH in one command (reference/odyssai-x-wire.md
 * §6.1 "Pre-load checks" and "Telemetry"): its memory and budget, and whether the model is there and complete —
 * `config.json`, `tokenizer.json`, at least one `*.safetensors`, every shard its index names, no partial download
 * (`*.hfdl`, `*.incomplete`, `*.part`) — with its `config.json` and the size of its weights.
 *
 * The command is a POSIX `sh` script run by `/bin/sh -c` (macOS and Linux alike: `uname`, `sysctl` or
 * `/proc/meminfo`, `wc -c`, `head -c`, `base64`); the model path is validated, then single-quoted. A node's answer is untrusted: the JSON it returns is
 * read at most {@link MAX_JSON_BYTES} a file and checked field by field.
 */
import type { SshEndpoint, SshPool } from "../ssh.ts";
import type { RingModelFacts } from "./plan.ts";

/** The most of `config.json` or the shard index read from a node, in bytes. */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** Deadline of the facts command on one node, in ms. */
export const NODE_FACTS_TIMEOUT_MS = 15_000;
/** Share of a Linux node's RAM (or a Mac's without a wired limit) a model may use (OdyssAI-X: 0.75). */
export const RAM_SHARE = 0.75;

/** A model path: relative to `models_dir` or absolute; letters, digits, `._-/`, no `..` segment. */
const MODEL_PATH = /^[A-Za-z0-9._/-]+$/;
/** A models directory: as {@link MODEL_PATH}, or starting with `~/` (the SSH user's home). */
const MODELS_DIR = /^(~\/)?[A-Za-z0-9._/-]*$/;

/** Whether `path` is acceptable as a model path (see {@link MODEL_PATH}). */
export function validModelPath(path: string): boolean {
  return path.length > 0 && path.length <= 512 && MODEL_PATH.test(path) && !path.split("/").includes("..");
}

/** Whether `dir` is acceptable as a models directory. */
export function validModelsDir(dir: string): boolean {
  return dir.length > 0 && dir.length <= 512 && MODELS_DIR.test(dir) && !dir.split("/").includes("..");
}

/**
 * A validated path on a node as a shell word: `model` absolute as given, else under `modelsDir`; `modelsDir` alone
 * without a model. `~/` becomes `"$HOME"/`.
 */
export function shellPathWord(modelsDir: string, model?: string): string {
  if (model?.startsWith("/")) return `'${model}'`;
  const dir = modelsDir.replace(/\/+$/, "") || "/";
  const path = model === undefined ? dir : `${dir}/${model}`;
  return path.startsWith("~/") ? `"$HOME"'/${path.slice(2)}'` : `'${path}'`;
}

/**
 * The facts command for `model` under `modelsDir`.
 * @throws RangeError when either path is not acceptable ({@link validModelPath}, {@link validModelsDir}).
 */
export function nodeFactsCommand(modelsDir: string, model: string): string {
  if (!validModelsDir(modelsDir)) throw new RangeError(`invalid models_dir '${modelsDir}'`);
  if (!validModelPath(model)) throw new RangeError(`invalid model path '${model}'`);
  const lines = [
    `M=${shellPathWord(modelsDir, model)}`,
    'if [ "$(uname -s)" = Darwin ]; then',
    '  echo "mem=$(sysctl -n hw.memsize)"; echo "wired_mb=$(sysctl -n iogpu.wired_limit_mb 2>/dev/null || echo 0)"',
    "else",
    "  echo \"mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)\"; echo wired_mb=0",
    "fi",
    'if [ -d "$M" ]; then echo dir=1; else echo dir=0; exit 0; fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    'for f in "$M"/*; do [ -f "$f" ] && printf "file\\t%s\\t%s\\n" "$(wc -c < "$f" | tr -d " ")" "${f##*/}"; done',
    `[ -f "$M/config.json" ] && printf "config\\t%s\\n" "$(head -c ${MAX_JSON_BYTES} "$M/config.json" | base64 | tr -d "\\n")"`,
    `[ -f "$M/model.safetensors.index.json" ] && printf "index\\t%s\\n" "$(head -c ${MAX_JSON_BYTES} "$M/model.safetensors.index.json" | base64 | tr -d "\\n")"`,
    "exit 0",
  ];
  // Run by /bin/sh whatever the login shell is (zsh, macOS's default, aborts on a glob matching nothing).
  return `/bin/sh -c ${shellQuote(lines.join("\n"))}`;
}

/** `text` as one single-quoted shell word. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** What one node told. */
export interface NodeFacts {
  /** Physical memory, in bytes. */
  memBytes: number;
  /** What a model may use there, in bytes: the Mac's wired limit when set, else {@link RAM_SHARE} of the memory. */
  budgetBytes: number;
  /** Whether the model's directory exists. */
  present: boolean;
  /** What is missing or wrong for it to load (empty: complete). */
  missing: string[];
  /** Size of its `*.safetensors` files, in bytes. */
  weightBytes: number;
  /** Its parsed `config.json`, when readable. */
  config?: Record<string, unknown>;
}

/** Decodes a base64 JSON object a node sent; undefined when it is not one. */
function decodeJson(base64: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(base64, "base64").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the facts command's output.
 * @throws Error when the memory line is missing or not a number (the node did not run the command as expected).
 */
export function parseNodeFacts(stdout: string): NodeFacts {
  const values = new Map<string, string>();
  const files = new Map<string, number>();
  let config: Record<string, unknown> | undefined;
  let index: Record<string, unknown> | undefined;
  for (const line of stdout.split("\n")) {
    const [kind, a, b] = line.split("\t");
    if (kind === "file" && a !== undefined && b !== undefined) files.set(b, Number(a));
    else if (kind === "config" && a !== undefined) config = decodeJson(a);
    else if (kind === "index" && a !== undefined) index = decodeJson(a);
    else if (kind !== undefined && a === undefined && kind.includes("=")) {
      values.set(kind.slice(0, kind.indexOf("=")), kind.slice(kind.indexOf("=") + 1).trim());
    }
  }
  const memBytes = values.has("mem_kb") ? Number(values.get("mem_kb")) * 1024 : Number(values.get("mem"));
  if (!Number.isFinite(memBytes) || memBytes <= 0) throw new Error("the node did not report its memory");
  const wiredMb = Number(values.get("wired_mb") ?? 0);
  const budgetBytes = Number.isFinite(wiredMb) && wiredMb > 0 ? wiredMb * 1024 * 1024 : memBytes * RAM_SHARE;
  const present = values.get("dir") === "1";
  const names = [...files.keys()];
  const weights = names.filter((name) => name.endsWith(".safetensors"));
  const missing: string[] = [];
  if (present) {
    if (!files.has("config.json")) missing.push("config.json");
    else if (config === undefined) missing.push("config.json (not a JSON object)");
    if (!files.has("tokenizer.json")) missing.push("tokenizer.json");
    if (weights.length === 0) missing.push("*.safetensors");
    const shards = index?.weight_map;
    if (shards !== null && typeof shards === "object") {
      for (const shard of new Set(Object.values(shards as Record<string, unknown>))) {
        if (typeof shard === "string" && !files.has(shard)) missing.push(shard);
      }
    }
    for (const name of names) if (/\.(hfdl|incomplete|part)$/.test(name)) missing.push(`${name} (partial download)`);
  } else {
    missing.push("the model directory");
  }
  const weightBytes = weights.reduce((sum, name) => sum + (files.get(name) ?? 0), 0);
  return { memBytes, budgetBytes, present, missing, weightBytes, ...(config ? { config } : {}) };
}

/**
 * The planning facts of a model from its `config.json` and weights' size (text models; a `text_config` is read
 * when the top level has no layers).
 * @returns undefined when a needed field is missing or not a positive integer.
 */
export function modelFactsOf(config: Record<string, unknown>, bytes: number): RingModelFacts | undefined {
  const text =
    config.num_hidden_layers === undefined && config.text_config && typeof config.text_config === "object"
      ? (config.text_config as Record<string, unknown>)
      : config;
  const int = (value: unknown) => (Number.isInteger(value) && (value as number) > 0 ? (value as number) : undefined);
  const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
  const layers = int(text.num_hidden_layers);
  const heads = int(text.num_attention_heads);
  const intermediateSize = int(text.intermediate_size);
  if (!modelType || !layers || !heads || !intermediateSize) return undefined;
  const kvHeads = int(text.num_key_value_heads) ?? heads;
  return { modelType, layers, heads, kvHeads, intermediateSize, bytes };
}

/**
 * Runs the facts command on one node.
 * @throws SshError (unreachable, auth, host key, timeout) as {@link SshPool.exec}; Error when its answer is not
 *   the command's.
 */
export async function readNodeFacts(
  pool: SshPool,
  endpoint: SshEndpoint,
  modelsDir: string,
  model: string,
): Promise<NodeFacts> {
  const result = await pool.exec(endpoint, nodeFactsCommand(modelsDir, model), NODE_FACTS_TIMEOUT_MS);
  if (result.rc !== 0) throw new Error(`the facts command exited with ${result.rc ?? result.signal}`);
  return parseNodeFacts(result.stdout);
}
