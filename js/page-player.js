/**
 * The cast player on a static page (this project's documentation site), without Jupyter or a CDN.
 *
 * A notebook cell that shows `k8sterm_widget.replay(...)` outputs the player widget and, after it, its
 * static face (the recording's last screen). A page built from that notebook has no widget manager, so
 * docs/conf.py puts each player's state in a `<script type="application/x-k8sterm-casts">` JSON block
 * (`{uid: {cast: base64, title, ...}}`) and loads this file: a classic script (pages opened from disk
 * cannot import modules) bundling the same Player the widget uses. It mounts a player before each face
 * whose uid has a cast; the Player hides that face, as it does in JupyterLab.
 */
import xtermCss from "@xterm/xterm/css/xterm.css";
import playerCss from "./player.css";
import styleCss from "./style.css";

import player from "./player.js";

/**
 * A read-only stand-in for the widget model: the saved traits, no kernel behind them.
 * @param {Record<string, any>} traits
 */
function staticModel(traits) {
  const bytes = Uint8Array.from(atob(traits.cast || ""), (c) => c.charCodeAt(0));
  /** @type {Record<string, any>} */
  const values = { ...traits, cast: new DataView(bytes.buffer) };
  return /** @type {any} */ ({
    get: (/** @type {string} */ name) => values[name],
    set: () => {},
    on: () => {},
    off: () => {},
    send: () => {},
    save_changes: () => {},
  });
}

function mount() {
  const data = document.querySelector('script[type="application/x-k8sterm-casts"]');
  if (!data) return;
  /** @type {Record<string, Record<string, any>>} */
  const casts = JSON.parse(data.textContent || "{}");
  const style = document.createElement("style");
  style.textContent = [xtermCss, styleCss, playerCss].join("\n");
  document.head.appendChild(style);
  for (const face of document.querySelectorAll('[data-k8sterm-kind="player"][data-k8sterm-face]')) {
    const uid = /** @type {HTMLElement} */ (face).dataset.k8stermFace || "";
    const traits = casts[uid];
    if (!traits) continue;
    const el = document.createElement("div");
    el.className = "k8sterm-page-player";
    face.before(el);
    player.render(/** @type {any} */ ({ model: staticModel({ ...traits, _uid: uid }), el }));
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
