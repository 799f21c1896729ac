// Bundles js/widget.js (and the xterm CSS it imports) into k8sterm_widget/static/ for anywidget.
// No CDN at run time: everything the widget needs is in these two files.
import { readFile } from "node:fs/promises";
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
  // One anywidget module per widget class: the terminal, the pod browser (no xterm of its own: its tabs are
  // terminals) and the cast player.
  entryPoints: ["js/widget.js", "js/browse.js", "js/player.js"],
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
if (watch) {
  await (await esbuild.context(options)).watch();
  await (await esbuild.context(page)).watch();
} else {
  await Promise.all([esbuild.build(options), esbuild.build(page)]);
}
