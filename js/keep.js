// What a terminal keeps of itself in the page and in the notebook: the saved transcript, the "session
// ended" view of it when no kernel answers, and the HTML snapshots the kernel asks for.
//
// Transcript (k8sterm_widget/recording/terminal.py): after each checkpoint (a second after output settles,
// so also right after the session's last bytes) the active view's screen is serialized, capped, and set as
// the `transcript` trait. JupyterLab saves it with the notebook when widget state is saved; on reopen the
// model comes back without a kernel-side session, the handshake is never answered, and the view shows the
// saved screen under a "session ended" banner. If the kernel does answer later, its replay replaces it.

/** @typedef {import("./protocol.js").Traits} Traits */
/** @typedef {import("@anywidget/types").AnyModel<Traits>} Model */
/** @typedef {import("./protocol.js").Transcript} Transcript */
/**
 * @typedef {{
 *   term: import("@xterm/xterm").Terminal,
 *   t: import("./terminal.js").Term,
 *   opened: boolean,
 * }} KeptView
 */

/** Lines of scrollback a transcript tries to keep (fewer when it would not fit). */
export const TRANSCRIPT_SCROLLBACK = [1000, 200, 0];
/** Characters of serialized screen kept in the notebook (the kernel cuts anything longer). */
export const TRANSCRIPT_MAX = 512 * 1024;
/** How long the kernel has to answer the handshake before the saved screen counts as "ended". */
export const RESTORE_AFTER_MS = 2500;

/**
 * The serialized screen of a view, as short as needed to fit TRANSCRIPT_MAX (null when even the bare
 * screen does not fit).
 * @param {KeptView} view
 * @returns {Transcript | null}
 */
export function transcriptOf(view) {
  if (!view.opened) return null;
  for (const scrollback of TRANSCRIPT_SCROLLBACK) {
    const data = view.t.serializer.serialize({ scrollback });
    if (data.length <= TRANSCRIPT_MAX) {
      return { data, cols: view.term.cols, rows: view.term.rows, source: "browser" };
    }
  }
  return null;
}

export class Keeper {
  /**
   * @param {Model} model
   * @param {() => boolean} answered whether the kernel has answered the handshake
   * @param {() => void} notify tell the views to update
   */
  constructor(model, answered, notify) {
    this.model = model;
    this.answered = answered;
    this.notify = notify;
    /** No kernel-side session answered: the views show the saved transcript as an ended session. */
    this.restored = false;
    this.lastData = "";
    this.timer = setTimeout(() => {
      if (!this.answered() && this.saved()) {
        this.restored = true;
        this.notify();
      }
    }, RESTORE_AFTER_MS);
  }

  /** @returns {Transcript | null} the transcript in the model (saved with the notebook) */
  saved() {
    const value = this.model.get("transcript");
    if (!value || typeof value.data !== "string" || !value.data) return null;
    if (!Number.isInteger(value.cols) || !Number.isInteger(value.rows)) return null;
    return value;
  }

  /**
   * Draw the saved transcript into a view that has nothing else yet (before the kernel answers).
   * @param {KeptView} view
   */
  showSaved(view) {
    const saved = this.saved();
    if (!saved) return;
    const term = view.term;
    term.reset();
    if (saved.cols !== term.cols || saved.rows !== term.rows) term.resize(saved.cols, saved.rows);
    term.write(saved.data);
  }

  /** The kernel answered: its replay is the truth from now on. */
  live() {
    clearTimeout(this.timer);
    if (this.restored) {
      this.restored = false;
      this.notify();
    }
  }

  /**
   * A checkpoint was taken from `view`: keep the same screen in the notebook.
   * @param {KeptView} view
   */
  checkpointed(view) {
    const transcript = transcriptOf(view);
    if (!transcript || transcript.data === this.lastData) return;
    this.lastData = transcript.data;
    this.model.set("transcript", transcript);
    this.model.save_changes();
  }

  /**
   * The kernel asks for the screen as HTML (Terminal.snapshot()).
   * @param {KeptView | null} view the active view
   * @returns {Uint8Array | null}
   */
  snapshot(view) {
    if (!view || !view.opened) return null;
    const html = view.t.serializer.serializeAsHTML({ scrollback: 0, includeGlobalBackground: true });
    return new TextEncoder().encode(html);
  }

  dispose() {
    clearTimeout(this.timer);
  }
}
