// One view of a terminal widget (anywidget `render`): the header, the error line, and an xterm.js
// terminal that draws what the controller hands it and passes keys back.
//
// Sizing: the height is `rows` rows of the current font (the user can drag the bottom edge), the width
// follows the cell; the fit addon turns that into cols x rows. The view the user last focused sets the
// pty size, so the shell's idea of the width matches what they look at.

import { h } from "./dom.js";
import { Header } from "./header.js";
import { CHECKPOINT_SCROLLBACK } from "./protocol.js";
import { attachKeys } from "./keys.js";
import { Term } from "./terminal.js";
import { showNotice } from "./notice.js";
import { currentTheme, watchTheme } from "./theme.js";

/** @typedef {import("./protocol.js").Traits} Traits */
/** @typedef {import("@anywidget/types").AnyModel<Traits>} Model */
/** @typedef {import("./controller.js").Controller} Controller */
/** @typedef {import("./screenlog.js").ScreenLog} ScreenLog */

const PADDING = 4; // px around the terminal inside the body
const LOSSY_NOTE = "\x1b[2m[k8sterm: earlier output was not kept]\x1b[0m\r\n";

/** @param {import("@xterm/xterm").Terminal} term */
export function bufferText(term) {
  const buffer = term.buffer.active;
  /** @type {string[]} */
  const lines = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    if (!line) continue;
    const text = line.translateToString(true);
    if (line.isWrapped && lines.length) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.join("\n");
}

/** @param {string} text */
async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // not a secure context, or no permission: the old way, from a user gesture
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

export class View {
  /**
   * @param {Controller} ctl
   * @param {Model} model the view's model proxy (its listeners go away with the view)
   * @param {HTMLElement} el
   */
  constructor(ctl, model, el) {
    this.ctl = ctl;
    this.model = model;
    this.disposed = false;
    this.opened = false;
    this.userSized = false;

    this.root = h("div", "k8sterm");
    // Lumino stops looking for notebook shortcuts here (JupyterLab, Notebook 7).
    this.root.setAttribute("data-lm-suppress-shortcuts", "true");
    this.header = new Header({
      reconnect: () => ctl.reconnect(),
      copy: () => this.copy(),
      find: (query, forward, incremental) => this.find(query, forward, incremental),
      closeSearch: () => {
        this.t.search.clearDecorations();
        this.t.term.focus();
      },
    });
    this.message = h("div", "k8sterm-message");
    this.message.hidden = true;
    this.body = h("div", "k8sterm-body");
    this.screen = h("div", "k8sterm-screen");
    this.body.append(this.screen);
    this.root.append(this.header.node, this.message, this.body);
    el.append(this.root);

    this.t = new Term({
      fontSize: model.get("font_size"),
      scrollback: model.get("scrollback"),
      theme: currentTheme(this.root),
    });
    this.term = this.t.term;
    // The automation hook: document.querySelector(".k8sterm").terminal is the live xterm Terminal.
    Object.defineProperty(this.root, "terminal", { value: this.term, configurable: true });
    // …and `keeper` the transcript kept for the notebook (keep.js: `lastData` is the screen last saved).
    Object.defineProperty(this.root, "keeper", { value: ctl.keeper, configurable: true });
    this.setHeight();

    /** @type {(() => void)[]} */
    this.cleanups = [];
    const term = this.term;
    const data = term.onData((d) => ctl.input(d));
    const binary = term.onBinary((d) => ctl.inputBinary(d));
    const results = this.t.search.onDidChangeResults((r) => this.header.setCount(r.resultIndex, r.resultCount));
    this.cleanups.push(() => {
      data.dispose();
      binary.dispose();
      results.dispose();
    });
    this.cleanups.push(
      attachKeys(term, this.root, {
        input: (d) => ctl.input(d),
        openSearch: () => this.header.showSearch(),
      }),
    );
    this.cleanups.push(watchTheme(() => (term.options.theme = currentTheme(this.root))));

    /** @type {number | undefined} */
    let frame;
    this.resizeObserver = new ResizeObserver(() => {
      if (frame !== undefined) return;
      frame = requestAnimationFrame(() => {
        frame = undefined;
        this.layout();
      });
    });
    this.resizeObserver.observe(this.screen);
    this.body.addEventListener("pointerdown", (event) => {
      // A drag on the resize handle (bottom-right corner) means the user sizes the terminal now.
      const rect = this.body.getBoundingClientRect();
      if (event.clientX > rect.right - 16 && event.clientY > rect.bottom - 16) this.userSized = true;
    });
    this.cleanups.push(() => {
      this.resizeObserver.disconnect();
      if (frame !== undefined) cancelAnimationFrame(frame);
    });

    const onFocus = () => ctl.setActive(this);
    this.root.addEventListener("focusin", onFocus);
    this.cleanups.push(() => this.root.removeEventListener("focusin", onFocus));

    const update = () => this.update();
    model.on("change:status", update);
    model.on("change:status_detail", update);
    model.on("change:exit_code", update);
    model.on("change:namespace", update);
    model.on("change:container", update);
    model.on("change:notes", update);
    model.on("change:badge", update);
    model.on("change:offers", update);
    model.on("change:font_size", () => {
      term.options.fontSize = model.get("font_size");
      if (!this.userSized) this.setHeight();
      this.layout();
    });
    model.on("change:rows", () => {
      this.userSized = false;
      this.setHeight();
    });
    model.on("change:renderer", () => this.opened && this.t.setRenderer(model.get("renderer")));
    model.on("change:scrollback", () => (term.options.scrollback = model.get("scrollback")));
    ctl.listeners.add(update);
    this.cleanups.push(() => ctl.listeners.delete(update));
    const waiting = setTimeout(update, 1600); // "waiting for the kernel" if the handshake is slow
    this.cleanups.push(() => clearTimeout(waiting));
    this.update();
    this.layout();
  }

  // ------------------------------------------------------------------ layout

  setHeight() {
    const rowHeight = this.t.rowHeight() || Math.ceil(this.model.get("font_size") * 1.2);
    this.body.style.height = `${Math.round(this.model.get("rows") * rowHeight + 2 * PADDING)}px`;
  }

  /** Open the terminal once the element has a size, then keep cols x rows fitted to it. */
  layout() {
    if (this.disposed || !this.screen.isConnected) return;
    const { width, height } = this.screen.getBoundingClientRect();
    if (width < 10 || height < 10) return; // hidden (collapsed output, background tab)
    if (!this.opened) {
      this.opened = true;
      this.term.options.theme = currentTheme(this.root); // now attached: the theme's variables apply
      this.t.open(this.screen, this.model.get("renderer"));
      this.setHeight(); // now with the real row height
      this.ctl.addView(this);
    }
    const size = this.t.propose();
    if (!size) return;
    if (size.cols !== this.term.cols || size.rows !== this.term.rows) this.term.resize(size.cols, size.rows);
    if (this.ctl.active === this) this.ctl.resize(size.cols, size.rows);
  }

  /** @returns {{cols: number, rows: number} | null} */
  size() {
    return this.opened ? this.t.propose() ?? { cols: this.term.cols, rows: this.term.rows } : null;
  }

  // ------------------------------------------------------------------ output (from the controller)

  /**
   * @param {Uint8Array} data
   * @param {() => void} [callback]
   */
  write(data, callback) {
    this.term.write(data, callback);
  }

  /**
   * Redraw from the page's screen log: the checkpoint at its own size, then the bytes after it, then
   * back to this view's size.
   * @param {ScreenLog} log
   */
  restore(log) {
    const term = this.term;
    term.reset();
    const ck = log.checkpoint;
    if (ck) {
      if (ck.cols !== term.cols || ck.rows !== term.rows) term.resize(ck.cols, ck.rows);
      term.write(ck.data);
    }
    if (log.lossy) term.write(LOSSY_NOTE);
    const tail = log.tail();
    if (tail.length) term.write(tail);
    term.write("", () => this.layout());
    this.update();
  }

  /** @returns {{data: string, cols: number, rows: number} | null} */
  serialize() {
    if (!this.opened) return null;
    return {
      data: this.t.serializer.serialize({
        scrollback: Math.min(this.term.options.scrollback ?? 1000, CHECKPOINT_SCROLLBACK),
      }),
      cols: this.term.cols,
      rows: this.term.rows,
    };
  }

  // ------------------------------------------------------------------ header actions

  async copy() {
    const term = this.term;
    const text = term.hasSelection() ? term.getSelection() : bufferText(term);
    const ok = await writeClipboard(text);
    term.focus();
    return ok;
  }

  /**
   * @param {string} query
   * @param {boolean} forward
   * @param {boolean} incremental
   */
  find(query, forward, incremental) {
    const search = this.t.search;
    if (!query) {
      search.clearDecorations();
      this.header.setCount(0, 0);
      return;
    }
    const dark = this.root.ownerDocument.body?.dataset.jpThemeLight === "false";
    const options = {
      incremental,
      decorations: {
        matchBackground: dark ? "#5c4d00" : "#fff59d",
        matchOverviewRuler: "#fbc02d",
        activeMatchBackground: dark ? "#f57f17" : "#ffee58",
        activeMatchColorOverviewRuler: "#f57f17",
      },
    };
    if (forward) search.findNext(query, options);
    else search.findPrevious(query, options);
  }

  // ------------------------------------------------------------------ status

  update() {
    if (this.disposed) return;
    const m = this.model;
    /** @type {Traits} */
    const s = {
      pod: m.get("pod"),
      namespace: m.get("namespace"),
      container: m.get("container"),
      context: m.get("context"),
      status: m.get("status"),
      status_detail: m.get("status_detail"),
      exit_code: m.get("exit_code"),
      notes: m.get("notes") ?? [],
      renderer: m.get("renderer"),
      font_size: m.get("font_size"),
      rows: m.get("rows"),
      scrollback: m.get("scrollback"),
      _uid: m.get("_uid"),
      badge: m.get("badge") ?? "",
      offers: m.get("offers") ?? [],
      transcript: m.get("transcript") ?? null,
    };
    const restored = this.ctl.keeper.restored;
    this.header.update(s);
    if (s.status === "connecting" && this.ctl.waitingForKernel) {
      this.header.statusText.textContent = "connecting… (waiting for the kernel: is a cell still running?)";
    }
    if (restored) this.header.statusText.textContent = "session ended (saved screen)";
    const error = s.status === "error";
    showNotice(this.message, s, restored, (offer) => offer === "debug" && this.ctl.debug());
    // A session that failed before printing anything is just its error line.
    const empty = this.ctl.log.end === 0 && !this.ctl.log.checkpoint && !restored;
    this.root.classList.toggle("k8sterm-collapsed", error && empty);
    this.root.dataset.status = restored ? "restored" : s.status;
    this.root.dataset.transport = this.ctl.channel.lane ? "lane" : "comm";
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.ctl.removeView(this);
    for (const cleanup of this.cleanups) cleanup();
    this.t.dispose();
    this.root.remove();
  }
}
