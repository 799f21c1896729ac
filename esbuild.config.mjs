// Bundles the front end (js/bundle.js: the three widgets, xterm once, and the CSS they import) into
// k8sterm_widget/static/k8sterm.{js,css} for anywidget, and the static pages' cast player.
// No CDN at run time: everything the widgets need is in these files.
import { readFile, rm } from "node:fs/promises";
import * as esbuild from "esbuild";
import postcss from "postcss";
import prefixSelector from "postcss-prefix-selector";

// anywidget injects our CSS into the whole page, and JupyterLab's own terminals use their own (older) xterm.js
// with its own xterm.css. Unscoped, our copy of xterm's rules would restyle those terminals too; so every
// selector of xterm.css is put under `.k8sterm`, like js/style.css. Inside our widget the prefix also
// outranks JupyterLab's unscoped copy, so our xterm gets the rules of its own version.
/** @param {"css" | "text"} loader */
const scopeXtermCss = (loader) => ({
  name: "scope-xterm-css",
  setup(build) {
    build.onLoad({ filter: /[\\/]@xterm[\\/]xterm[\\/]css[\\/]xterm\.css$/ }, async ({ path }) => {
      const css = await readFile(path, "utf8");
      const scoped = await postcss([prefixSelector({ prefix: ".k8sterm" })]).process(css, { from: path });
      return { contents: scoped.css, loader };
    });
  },
});

const watch = process.argv.includes("--watch");
const options = {
  // One module for every widget class (each names its part): xterm.js is in it once (see js/bundle.js).
  entryPoints: { k8sterm: "js/bundle.js" },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  outdir: "k8sterm_widget/static",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  logLevel: "warning",
  plugins: [scopeXtermCss("css")],
};
// The cast player for static pages (the documentation site): one classic script, its CSS inside as text
// (pages opened from disk cannot import modules). See js/page-player.js.
const page = {
  ...options,
  entryPoints: ["js/page-player.js"],
  format: "iife",
  loader: { ".css": "text" },
  plugins: [scopeXtermCss("text")],
  logLevel: "error", // player.js's bare CSS imports are dropped here on purpose: page-player.js inlines them
};
// The directory holds build output only: start it afresh, so a bundle that is no longer built (the three
// per-widget modules before js/bundle.js) does not linger and ship in a wheel.
await rm(options.outdir, { recursive: true, force: true });
if (watch) {
  await (await esbuild.context(options)).watch();
  await (await esbuild.context(page)).watch();
} else {
  await Promise.all([esbuild.build(options), esbuild.build(page)]);
}
