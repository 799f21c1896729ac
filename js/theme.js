// Colours that follow JupyterLab's light/dark theme, live.
//
// Like JupyterLab's own terminal (theme "inherit"), the terminal takes its colours from the theme's CSS
// variables; outside JupyterLab (no variables) it falls back to fixed light/dark palettes picked by
// `data-jp-theme-light` or the OS preference. JupyterLab switches themes by swapping stylesheets and
// flipping attributes on <body>, so a MutationObserver on <body> re-reads the variables (twice: the new
// stylesheet may apply a moment after the attribute changes).

/** @typedef {import("@xterm/xterm").ITheme} ITheme */

/** @type {ITheme} */
export const LIGHT = {
  foreground: "#000",
  background: "#fff",
  cursor: "#616161",
  cursorAccent: "#f5f5f5",
  selectionBackground: "rgba(97, 97, 97, 0.3)",
  selectionInactiveBackground: "rgba(189, 189, 189, 0.3)",
};

/** @type {ITheme} */
export const DARK = {
  foreground: "#fff",
  background: "#000",
  cursor: "#fff",
  cursorAccent: "#000",
  selectionBackground: "rgba(255, 255, 255, 0.3)",
  selectionInactiveBackground: "rgba(238, 238, 238, 0.3)",
};

/** @returns {boolean} */
export function isDark() {
  const light = document.body?.dataset.jpThemeLight;
  if (light === "true") return false;
  if (light === "false") return true;
  return typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
}

/**
 * The xterm theme for the current JupyterLab theme.
 * @param {Element} [el] where to read CSS variables (they may be scoped)
 * @returns {ITheme}
 */
export function currentTheme(el = document.body) {
  const base = isDark() ? DARK : LIGHT;
  const from = el?.isConnected ? el : document.documentElement; // a detached element has no styles
  if (!from) return base;
  const style = getComputedStyle(from);
  /** @param {string} name @param {string | undefined} fallback */
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const background = v("--jp-layout-color0", undefined);
  if (!background) return base; // not in JupyterLab: fixed palette
  return {
    ...base,
    foreground: v("--jp-ui-font-color0", base.foreground),
    background,
    cursor: v("--jp-ui-font-color1", base.cursor),
    cursorAccent: v("--jp-ui-inverse-font-color0", base.cursorAccent),
    selectionBackground: v("--jp-layout-color3", base.selectionBackground),
    selectionInactiveBackground: v("--jp-layout-color2", base.selectionInactiveBackground),
  };
}

/**
 * Call `apply` now and whenever the JupyterLab theme changes; returns a function that stops watching.
 * @param {() => void} apply
 * @returns {() => void}
 */
export function watchTheme(apply) {
  apply();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let later;
  const observer = new MutationObserver(() => {
    apply();
    clearTimeout(later);
    later = setTimeout(apply, 150);
  });
  if (document.body) {
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"],
    });
  }
  const media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  media?.addEventListener("change", apply);
  return () => {
    observer.disconnect();
    clearTimeout(later);
    media?.removeEventListener("change", apply);
  };
}
