/**
 * The whole front end as one module: the anywidget modules of the terminal, the pod browser and the cast
 * player, and xterm.js once for all of them.
 *
 * Why one module: anywidget imports a widget's `_esm` from a blob URL (or a plain URL), where a module
 * cannot import a sibling chunk, so esbuild's code splitting is no way to share xterm between entry points;
 * three entry points carried three copies. Here every widget class loads this one module (shared by the
 * kernel's Bundle model: k8sterm_widget/frontend.py) and names its part in the `_part` trait.
 * (js/page-player.js, for static pages opened from disk, is a classic script of its own: such pages cannot
 * import modules.)
 */
import browser from "./browse.js";
import player from "./player.js";
import terminal from "./widget.js";

/** @type {Record<string, { initialize?: (ctx: any) => unknown, render: (ctx: any) => unknown }>} */
const parts = { terminal, browser, player };

/** @param {{ get(name: string): unknown }} model */
function part(model) {
  const name = String(model.get("_part"));
  const found = parts[name];
  if (!found) throw new Error(`k8sterm: no front end for part ${JSON.stringify(name)}`);
  return found;
}

export default {
  /** @param {any} ctx */
  initialize(ctx) {
    return part(ctx.model).initialize?.(ctx);
  },
  /** @param {any} ctx */
  render(ctx) {
    return part(ctx.model).render(ctx);
  },
};
