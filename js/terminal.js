// One xterm.js Terminal with its addons, as JupyterLab's terminal sets it up.
//
// Addons: fit (size from the element), web-links (clickable http(s) URLs, opened with noopener), unicode11 (activated: correct
// widths for CJK and emoji, matching what a modern libc's wcwidth tells the shell), search, serialize
// (checkpoints for replay). Renderer ("auto"): WebGL where a GPU runs it, else the DOM renderer; a lost
// WebGL context (GPU reset, too many contexts in one page) falls back to the DOM renderer instead of a
// blank terminal. The canvas renderer no longer exists in xterm 6.
//
// Why not WebGL everywhere it exists: without a GPU (virtual machines, remote desktops, headless browsers)
// the browser emulates WebGL in software, and xterm then spends most of each frame drawing: a flood of
// output parses at 6 MB/s there, against 15-17 MB/s with the DOM renderer (benchmarks/widget_terminal.py).
// Browsers report that case to a context asked with `failIfMajorPerformanceCaveat` (which then fails), or,
// like Chromium falling back to SwiftShader, name the software rasterizer as the context's renderer.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { Unicode11Addon } from "@xterm/addon-unicode11";
import { SearchAddon } from "@xterm/addon-search";
import { SerializeAddon } from "@xterm/addon-serialize";
import { WebglAddon } from "@xterm/addon-webgl";

/**
 * @typedef {{ fontSize: number, scrollback: number, theme: import("@xterm/xterm").ITheme }} TermOptions
 * @typedef {"auto" | "webgl" | "dom"} Renderer
 */

/** @type {boolean | undefined} */
let fastWebgl;

/** Renderer names of software WebGL (Chromium's SwiftShader, Mesa's llvmpipe/softpipe, Windows' WARP). */
export const SOFTWARE_GL = /SwiftShader|llvmpipe|softpipe|Software Rasterizer|Microsoft Basic Render/i;

/**
 * Whether this browser runs WebGL2 on a GPU, not in software (cached; creating a context is not free).
 * @returns {boolean}
 */
export function hasFastWebgl() {
  if (fastWebgl === undefined) {
    try {
      const canvas = document.createElement("canvas");
      const gl = canvas.getContext("webgl2", { failIfMajorPerformanceCaveat: true });
      const info = gl?.getExtension("WEBGL_debug_renderer_info");
      const name = gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
      fastWebgl = !!gl && !SOFTWARE_GL.test(name);
      gl?.getExtension("WEBGL_lose_context")?.loseContext(); // give the context back at once
    } catch {
      fastWebgl = false;
    }
  }
  return fastWebgl;
}

/**
 * Open a link from the terminal: http(s) only, in a new tab that cannot reach back into this page.
 * @param {string} uri
 */
export function openLink(uri) {
  let url;
  try {
    url = new URL(uri);
  } catch {
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return;
  window.open(url.href, "_blank", "noopener,noreferrer");
}

export class Term {
  /** @param {TermOptions} options */
  constructor(options) {
    this.term = new Terminal({
      allowProposedApi: true, // unicode.activeVersion
      fontFamily: 'Menlo, Consolas, "DejaVu Sans Mono", monospace',
      fontSize: options.fontSize,
      lineHeight: 1,
      scrollback: options.scrollback,
      cursorBlink: true,
      theme: options.theme,
      // OSC 8 hyperlinks: their text need not be their target, so ask first (as xterm does by default).
      linkHandler: {
        activate: (_event, uri) => {
          if (window.confirm(`Open this link?\n\n${uri}`)) openLink(uri);
        },
      },
    });
    this.fit = new FitAddon();
    this.search = new SearchAddon();
    this.serializer = new SerializeAddon();
    this.term.loadAddon(this.fit);
    this.term.loadAddon(this.search);
    this.term.loadAddon(this.serializer);
    this.term.loadAddon(new WebLinksAddon((_event, uri) => openLink(uri)));
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = "11";
    /** @type {WebglAddon | null} */
    this.webgl = null;
    /** @type {"webgl" | "dom"} */
    this.renderer = "dom";
  }

  /**
   * Attach to the page; call once `el` is in the document.
   * @param {HTMLElement} el
   * @param {Renderer} renderer
   */
  open(el, renderer) {
    this.term.open(el);
    this.setRenderer(renderer);
  }

  /** @param {Renderer} renderer */
  setRenderer(renderer) {
    const want = renderer === "dom" ? "dom" : "webgl";
    if (want === "dom") {
      this.dropWebgl();
      return;
    }
    if (this.webgl || (renderer === "auto" && !hasFastWebgl())) return;
    try {
      const addon = new WebglAddon();
      addon.onContextLoss(() => {
        console.warn("k8sterm: WebGL context lost; using the DOM renderer");
        this.dropWebgl();
      });
      this.term.loadAddon(addon);
      this.webgl = addon;
      this.renderer = "webgl";
    } catch (e) {
      console.warn("k8sterm: WebGL renderer unavailable; using the DOM renderer", e);
      this.dropWebgl();
    }
  }

  dropWebgl() {
    const addon = this.webgl;
    this.webgl = null;
    this.renderer = "dom";
    if (addon) {
      try {
        addon.dispose();
      } catch {
        // already gone with its context
      }
    }
  }

  /** @returns {{cols: number, rows: number} | undefined} what would fit the element now */
  propose() {
    const dims = this.fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return undefined;
    return { cols: Math.max(2, dims.cols), rows: Math.max(2, dims.rows) };
  }

  /** Height of one row in CSS pixels, once rendered (0 before). */
  rowHeight() {
    // xterm exposes no public metric; the fit addon reads the same private field.
    const core = /** @type {any} */ (this.term)._core;
    const height = core?._renderService?.dimensions?.css?.cell?.height;
    return typeof height === "number" && height > 0 ? height : 0;
  }

  dispose() {
    this.dropWebgl();
    this.term.dispose();
  }
}
