/**
 * The dashboard's browser bundle (issue 14 item 1), built by Bun's bundler from `client/index.html` (Preact, uPlot and
 * the pages under `client/`), every asset served by Ithaca itself: no CDN.
 *
 * The page is imported as an HTML bundle (`import page from "./client/index.html"`), which is what makes it work in
 * both places Ithaca runs:
 *
 * - In the standalone binary, `bun build --compile` bundles the page ahead of time and embeds its output files
 *   (`page.files`: the HTML, one script, one stylesheet, content-hashed); they are read from the binary.
 * - From a checkout, the import is only the page's path (`page.files` is absent): the first request for the
 *   dashboard bundles it into memory with `Bun.build` (about 0.2 s, once per process; nothing is written to disk, so
 *   an edited client is picked up by the next start and there is no build artifact to go stale).
 *
 * Either way the result is the same: the page (its `<script>` and stylesheet pointed at `ASSET_PREFIX`) and the files
 * it names, by file name.
 */
import { basename } from "node:path";
import page from "./client/index.html";

/** Where the page's script and stylesheet are served. */
export const ASSET_PREFIX = "/dashboard/assets/";

/** One file of the bundle. */
export interface DashboardAsset {
  /** `text/javascript;charset=utf-8`, `text/css;charset=utf-8`... */
  type: string;
  body: Blob;
}

/** The built dashboard. */
export interface DashboardBundle {
  /** The page, its asset references rewritten to `ASSET_PREFIX` + file name. */
  html: string;
  /** The files the page names, by file name (content-hashed names: they never change under one name). */
  assets: Map<string, DashboardAsset>;
  /** `embedded` (the binary: built ahead of time by `bun build --compile`) or `built` (bundled at first request). */
  origin: "embedded" | "built";
}

/** What Bun's HTML import gives: the page's path, and its output files when it was bundled ahead of time. */
interface HtmlImport {
  index: string;
  files?: Array<{ path: string; loader: string; headers: Record<string, string> }>;
}

const TYPES: Record<string, string> = {
  js: "text/javascript;charset=utf-8",
  css: "text/css;charset=utf-8",
  html: "text/html;charset=utf-8",
};

/** Points every `<script src>` and `<link href>` of `html` at `ASSET_PREFIX` + the file's name. */
async function rewriteAssetPaths(html: string, assets: ReadonlyMap<string, DashboardAsset>): Promise<string> {
  const repoint = (attribute: string) => ({
    element(element: HTMLRewriterTypes.Element) {
      const value = element.getAttribute(attribute);
      if (value === null) return;
      const name = basename(value);
      if (!assets.has(name)) throw new Error(`dashboard bundle: the page names ${value}, which the bundle lacks`);
      element.setAttribute(attribute, `${ASSET_PREFIX}${name}`);
    },
  });
  return new HTMLRewriter()
    .on("script[src]", repoint("src"))
    .on(`link[rel="stylesheet"][href]`, repoint("href"))
    .transform(html);
}

/** The files `bun build --compile` embedded. */
async function embedded(files: NonNullable<HtmlImport["files"]>): Promise<DashboardBundle> {
  const assets = new Map<string, DashboardAsset>();
  let html: string | undefined;
  for (const file of files) {
    if (file.loader === "html") html = await Bun.file(file.path).text();
    else
      assets.set(basename(file.path), {
        type: file.headers["content-type"] ?? TYPES[file.loader] ?? "",
        body: Bun.file(file.path),
      });
  }
  if (html === undefined) throw new Error("dashboard bundle: the binary holds no page");
  return { html: await rewriteAssetPaths(html, assets), assets, origin: "embedded" };
}

/** Bundles the page into memory. */
async function build(index: string): Promise<DashboardBundle> {
  const result = await Bun.build({ entrypoints: [index], target: "browser", minify: true });
  if (!result.success) {
    throw new Error(`dashboard bundle failed: ${result.logs.map((log) => log.message).join("; ")}`);
  }
  const assets = new Map<string, DashboardAsset>();
  let html: string | undefined;
  for (const output of result.outputs) {
    const name = basename(output.path);
    if (name.endsWith(".html")) html = await output.text();
    else assets.set(name, { type: output.type, body: output });
  }
  if (html === undefined) throw new Error("dashboard bundle: Bun.build produced no page");
  return { html: await rewriteAssetPaths(html, assets), assets, origin: "built" };
}

let bundle: Promise<DashboardBundle> | undefined;

/**
 * The bundle: the embedded one, or built now (once per process; a failed build is tried again on the next call).
 * @throws Error naming what failed (a syntax error in the client, a missing package).
 */
export function dashboardBundle(): Promise<DashboardBundle> {
  const html = page as unknown as HtmlImport;
  bundle ??= (html.files ? embedded(html.files) : build(html.index)).catch((error) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}
