// Bundles js/widget.js (and the xterm CSS it imports) into k8sterm_widget/static/ for anywidget.
// No CDN at run time: everything the widget needs is in these two files.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: ["js/widget.js"],
  bundle: true,
  format: "esm",
  target: ["es2022"],
  outdir: "k8sterm_widget/static",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  logLevel: "warning",
};
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
