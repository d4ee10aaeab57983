// Dependency rules for Ithaca: the TARGET layout of DESIGN.md §3 ("Layout"), checked by dependency-cruiser.
//
//   bun x --bun depcruise src plugins ffi/src --config .dependency-cruiser.cjs
//
// (`--bun` matters: without it `bun x` runs depcruise's `#!/usr/bin/env node` shebang with the system node, which may be
// older than dependency-cruiser supports. scripts/lint.sh does this.)
//
// "Folders depend downward only (routes → catalog/routing → backends → protocol/translate; engine depends on ffi only;
// plugins and admin are thin)". The layers below, top to bottom; a module may import its own layer and any layer below
// it, never one above it:
//
//   entry      src/main.ts, src/app.ts, src/cli/ CLI entry and the pipeline; app.ts composes everything, plugins
//                                               included; src/cli/ holds the commands (serve, doctor, make-model,
//                                               version) and a standalone binary's native-library extraction
//   surfaces   plugins/, src/admin/, src/dashboard/   thin: HTTP surfaces over src/; independent of each other
//   routes     src/routes/
//   catalog    src/catalog/, src/routing/
//   services   src/backends/ (mlx/, http/, openai/, anthropic/), src/fleet/, src/access/, src/store/
//   translate  src/translate/
//   protocol   src/protocol/
//   config     src/config/                       the bottom of src/: see CONFIG below
//
// Outside the layers:
//   src/engine/  runs in the Worker. It imports only src/engine/, ffi/ (by package name) and npm packages. From the
//                main thread only src/backends/mlx/ may import it, and only its public surface (ENGINE_PUBLIC).
//   ffi/         the package "bun-ffi-mlx-bindings": imports nothing from the repository outside ffi/.
//
// CONFIG: src/config/ is the valibot schema of the config file and env plus its defaults. Backends, catalog, app and
// main import its types and defaults, so it must sit below every layer that reads settings; it needs nothing from
// src/ itself (today it imports only src/config/). It is therefore the lowest layer: anything in src/ outside the
// engine may import it, and it may import nothing in src/ but itself. (Protocol may read config, e.g. a body limit
// default, but the wire schemas never have to.) The engine does not import config: the backend hands it plain values.
//
// Type-only imports count like any other import: they couple the folders just the same (tsPreCompilationDeps).

/** A regular expression source matching any of the given folders/files (paths are repository-relative). */
const anyOf = (paths) => `^(${paths.join("|")})`;

/** The layers, top to bottom. Each path is a regular expression source, anchored with ^ by anyOf. */
const LAYERS = [
  { name: "entry", paths: ["src/main\\.ts$", "src/app\\.ts$", "src/cli/"] },
  { name: "surfaces", paths: ["plugins/", "src/admin/", "src/dashboard/"] },
  { name: "routes", paths: ["src/routes/"] },
  { name: "catalog", paths: ["src/catalog/", "src/routing/"] },
  { name: "services", paths: ["src/backends/", "src/fleet/", "src/access/", "src/store/"] },
  { name: "translate", paths: ["src/translate/"] },
  { name: "protocol", paths: ["src/protocol/"] },
  { name: "config", paths: ["src/config/"] },
];

/** Every folder/file of src/ that DESIGN §3 names. Anything else in src/ is outside the layout. */
const KNOWN_SRC = anyOf([
  "src/main\\.ts$",
  "src/app\\.ts$",
  "src/(cli|config|protocol|translate|routing|catalog|routes|backends|engine|fleet|access|store|admin|dashboard)/",
]);

/**
 * The engine modules the main thread may use: the Worker's handle and the message types it speaks, plus a few pure
 * modules the inventory and the prompt counter of src/backends/mlx/ read on the main thread. The pure ones never call
 * MLX: they load nothing from ffi/, directly or through their runtime imports (their only way towards ffi/ is a
 * type-only import of worker-messages.ts, erased at runtime). A module that imports ffi/ (model/loader.ts,
 * model/weights.ts, model/config.ts) does not belong here.
 */
const ENGINE_PUBLIC = anyOf([
  "src/engine/client\\.ts$", // the Worker handle (EngineClient, PendingReplies)
  "src/engine/worker-messages\\.ts$", // the messages and parameter types of the engine Worker
  // Pure, never call MLX:
  "src/engine/chat-template\\.ts$", // reading a model's chat template source (the inventory's capabilities)
  "src/engine/output/parser\\.ts$", // output-format detection from the chat template (capabilities)
  "src/engine/prompt\\.ts$", // prompt rendering types (PromptParams) of the prompt counter and params
  "src/engine/model/files\\.ts$", // config.json and safetensors file listing (the inventory)
  "src/engine/token-count-messages\\.ts$", // the messages of the token-count Worker
  "src/engine/model/stages\\.ts$", // a pipeline's layers per rank (the ring preflight plans with it)
]);

/**
 * The engine's pure text splitters, which never call MLX and import nothing but each other and type-only
 * worker-messages.ts: the reasoning splitter (`<think>…</think>` → reasoning_content/content) and its helpers. The
 * upstream backends use it on a Telemak's inline reasoning (telemak-companion-wire §9 #23).
 */
const TEXT_SPLITTERS = anyOf([
  "src/engine/output/reasoning\\.ts$",
  "src/engine/output/markers\\.ts$",
  "src/engine/output/deltas\\.ts$",
  "src/engine/worker-messages\\.ts$",
]);

/** The engine's pipeline layer split: pure, shared with the ring preflight (src/fleet/ring/plan.ts). */
const PIPELINE_STAGES = anyOf(["src/engine/model/stages\\.ts$"]);

/**
 * Code of the product: what ships in the binary (tests, benchmarks and scripts do not; the standalone binary's own
 * entry, scripts/binary/, composes src/ with the model generator of scripts/make-model/ — scripts import the product,
 * never the other way round).
 */
const PRODUCT = anyOf(["src/", "plugins/", "ffi/src/"]);

/** One "no upward import" rule per layer that has layers above it. */
const layerRules = LAYERS.slice(1).map((layer, i) => {
  const above = LAYERS.slice(0, i + 1);
  return {
    name: `layer-${layer.name}-imports-upward`,
    comment:
      `The ${layer.name} layer (${layer.paths.join(", ")}) may import only its own layer and the layers below it, ` +
      `not ${above.map((l) => l.name).join(", ")}. Folders depend downward only (DESIGN §3).`,
    severity: "error",
    from: { path: anyOf(layer.paths) },
    to: { path: anyOf(above.flatMap((l) => l.paths)) },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- cycles --------------------------------------------------------------------------------------------------
    {
      name: "no-circular",
      comment:
        "No circular dependencies between modules (type-only imports included): a cycle means two modules are one " +
        "module in two files, and it defeats the layering below. Break it by moving the shared part down.",
      severity: "error",
      from: {},
      to: { circular: true },
    },

    // ---- layering ------------------------------------------------------------------------------------------------
    ...layerRules,
    {
      name: "surfaces-import-each-other",
      comment:
        "plugins/, src/admin/ and src/dashboard/ are thin surfaces over the layers below; they do not build on each " +
        "other (src/app.ts composes them).",
      severity: "error",
      from: { path: "^(plugins|src/admin|src/dashboard)/" },
      to: { path: "^(plugins|src/admin|src/dashboard)/", pathNot: "^$1/" },
    },
    {
      name: "dashboard-client-imports-server",
      comment:
        "src/dashboard/client/ runs in the browser, bundled by Bun from its index.html, and is type-checked as its own " +
        "program (src/dashboard/client/tsconfig.json: DOM types, which clash with Bun's): it imports only itself and " +
        "browser packages (preact, uplot), never server code — not even types (restate a shape in client/types.ts).",
      severity: "error",
      from: { path: "^src/dashboard/client/" },
      to: { path: "^(src|plugins|ffi)/", pathNot: "^src/dashboard/client/" },
    },
    {
      name: "dashboard-server-imports-client",
      comment:
        "The dashboard's server side (src/dashboard/*.ts) takes the browser code only through its HTML entry, " +
        "client/index.html, which Bun bundles (src/dashboard/bundle.ts); it never runs client modules itself.",
      severity: "error",
      from: { path: "^src/dashboard/", pathNot: "^src/dashboard/client/" },
      to: { path: "^src/dashboard/client/", pathNot: "^src/dashboard/client/index\\.html$" },
    },
    {
      name: "src-imports-plugins",
      comment:
        "Plugins are thin Elysia wrappers over src/; src/ never depends on them. src/app.ts is the one exception: it " +
        "composes the plugins into the pipeline.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/app\\.ts$" },
      to: { path: "^plugins/" },
    },
    {
      name: "outside-the-layout",
      comment:
        "A module in src/ outside the folders DESIGN §3 names is in no layer, so no layering rule covers it. Move it " +
        "into the layout (or add the folder to DESIGN §3 and to LAYERS here).",
      severity: "error",
      from: { path: "^src/", pathNot: KNOWN_SRC },
      to: {},
    },
    {
      name: "import-outside-the-layout",
      comment: "The other side of outside-the-layout: an import of a module in src/ that is in no layer.",
      severity: "error",
      from: {},
      to: { path: "^src/", pathNot: KNOWN_SRC },
    },

    // ---- backends: one folder per provider protocol ---------------------------------------------------------------
    {
      name: "backends-openai-anthropic-cross",
      comment:
        "src/backends/openai/ and src/backends/anthropic/ are one provider protocol each, with their own outbound " +
        "conversion: neither imports the other. Shared transport belongs in backends/http/, shared types in " +
        "backends/ (backend.ts) or below.",
      severity: "error",
      from: { path: "^src/backends/(openai|anthropic)/" },
      to: { path: "^src/backends/(openai|anthropic)/", pathNot: "^src/backends/$1/" },
    },
    {
      name: "backends-http-imports-provider",
      comment:
        "src/backends/http/ is the shared upstream transport under both providers: it may not import " +
        "backends/openai/ or backends/anthropic/ (backends/mlx/ is covered by backends-upstreams-import-mlx).",
      severity: "error",
      from: { path: "^src/backends/http/" },
      to: { path: "^src/backends/(openai|anthropic)/" },
    },
    {
      name: "backends-mlx-and-upstreams-cross",
      comment:
        "The local engine backend (backends/mlx/) and the upstream backends (backends/http/, openai/, anthropic/) " +
        "share only backends/backend.ts and what lies below; they do not import each other.",
      severity: "error",
      from: { path: "^src/backends/mlx/" },
      to: { path: "^src/backends/(http|openai|anthropic)/" },
    },
    {
      name: "backends-upstreams-import-mlx",
      comment: "The other direction of backends-mlx-and-upstreams-cross.",
      severity: "error",
      from: { path: "^src/backends/(http|openai|anthropic)/" },
      to: { path: "^src/backends/mlx/" },
    },

    // ---- engine (runs in the Worker) ------------------------------------------------------------------------------
    {
      name: "engine-imports-outside",
      comment:
        "src/engine/ runs in a Worker: it may import only src/engine/, ffi/ (package bun-ffi-mlx-bindings) and npm " +
        "packages — no config, protocol, backends or anything else of the main thread.",
      severity: "error",
      from: { path: "^src/engine/" },
      to: { path: "^(src|plugins)/", pathNot: "^src/engine/" },
    },
    {
      name: "engine-imported-outside-backends-mlx",
      comment:
        "Only the local engine backend (src/backends/mlx/) talks to the engine. Everything else goes through it " +
        "(admin included: it is thin over backends/mlx). One exception: the upstream backends (backends/openai/) " +
        "split a Telemak's inline <think> with the engine's own pure reasoning splitter (TEXT_SPLITTERS), so there " +
        "is one splitter, not two; and the ring preflight (src/fleet/ring/) plans a pipeline with the engine's own " +
        "layer split (PIPELINE_STAGES), so the plan and the ranks agree.",
      severity: "error",
      from: { path: "^(src|plugins)/", pathNot: "^src/(engine|backends/mlx)/" },
      to: { path: "^src/engine/", pathNot: `${TEXT_SPLITTERS}|${PIPELINE_STAGES}` },
    },
    {
      name: "engine-stages-outside-ring",
      comment: "The engine's pipeline layer split (PIPELINE_STAGES) is shared with the ring preflight only.",
      severity: "error",
      from: { path: "^(src|plugins)/", pathNot: "^src/(engine|backends/mlx|fleet/ring)/" },
      to: { path: PIPELINE_STAGES },
    },
    {
      name: "engine-text-splitters-outside-backends",
      comment: "The engine's pure text splitters (TEXT_SPLITTERS) are shared with src/backends/ only.",
      severity: "error",
      from: { path: "^(src|plugins)/", pathNot: "^src/(engine|backends)/" },
      to: { path: TEXT_SPLITTERS },
    },
    {
      name: "engine-internals-imported",
      comment:
        "From the main thread, src/backends/mlx/ uses only the engine's public surface: client.ts (the Worker " +
        "handle), worker-messages.ts (the message and parameter types) and a few pure modules that never call MLX " +
        "(ENGINE_PUBLIC). Importing other engine modules loads Worker code on the main thread; if something there is " +
        "needed on both sides, make it part of the public surface (ENGINE_PUBLIC).",
      severity: "error",
      from: { path: "^src/backends/mlx/" },
      to: { path: "^src/engine/", pathNot: ENGINE_PUBLIC },
    },

    // ---- ffi (package bun-ffi-mlx-bindings) -----------------------------------------------------------------------
    {
      name: "ffi-imports-outside",
      comment:
        "ffi/ is a standalone package (bun-ffi-mlx-bindings): it imports nothing of the repository outside ffi/.",
      severity: "error",
      from: { path: "^ffi/" },
      to: { path: "^(src|plugins|test|bench|scripts)/" },
    },
    {
      name: "ffi-imported-outside-engine",
      comment:
        "Only the local inference code uses the MLX binding: src/engine/ (in the Worker) and src/backends/mlx/ " +
        "(e.g. reading safetensors headers for the inventory).",
      severity: "error",
      from: { path: "^(src|plugins)/", pathNot: "^src/(engine|backends/mlx)/" },
      to: { path: "^ffi/" },
    },
    {
      name: "ffi-not-by-package-name",
      comment:
        'Import the binding by its package name ("bun-ffi-mlx-bindings"), not by a relative path into ffi/src/: ' +
        "the package's index is its public surface.",
      severity: "error",
      from: { path: "^(src|plugins)/" },
      to: { path: "^ffi/", dependencyTypesNot: ["aliased-workspace"] },
    },

    // ---- product code does not depend on tests, benchmarks or scripts ----------------------------------------------
    {
      name: "product-imports-test-bench-scripts",
      comment:
        "src/, plugins/ and ffi/src/ ship; test/, bench/ and scripts/ do not. Never import them from product code.",
      severity: "error",
      from: { path: PRODUCT },
      to: { path: "^(test|bench|scripts)/" },
    },

    // ---- hygiene (dependency-cruiser's recommended rules that catch real breakage) --------------------------------
    {
      name: "not-to-unresolvable",
      comment: "An import that does not resolve to a file or package: a typo, a moved file, or a missing dependency.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-non-package-json",
      comment:
        "An npm package imported by product code but not declared in package.json: it works only by accident of " +
        "hoisting and breaks on a fresh install.",
      severity: "error",
      from: { path: PRODUCT },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "not-to-dev-dep",
      comment:
        "Product code importing a devDependency (e.g. the openai or @anthropic-ai/sdk clients used by the tests): it " +
        "is not installed in production and not in the binary. Type-only imports are erased and allowed.",
      severity: "error",
      from: { path: PRODUCT },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"], pathNot: "node_modules/@types/" },
    },
  ],

  options: {
    doNotFollow: { path: "node_modules" },
    // node_modules is not excluded, only not followed: the npm rules below need to see which packages are imported.
    exclude: { path: "^(\\.venv|\\.tools|\\.build|models|dist|ffi/native)/" },
    // See type-only imports too (they are imports in the design sense) and resolve `import x from "./a.ts"`.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["bun", "import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
