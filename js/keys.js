// Keyboard and focus, modelled on JupyterLab's own terminal (packages/terminal/src/widget.ts).
//
// * Keys typed in the terminal belong to the terminal. The widget root carries
//   `data-lm-suppress-shortcuts`, so Lumino (JupyterLab, Notebook 7) never matches a notebook shortcut
//   inside it; that matters most in Notebook 7, whose Lumino listens in the capture phase, before
//   xterm, and would otherwise re-run the cell on Shift+Enter.
// * Escape twice (within 350 ms) leaves the terminal: focus moves to the viewport and the hidden
//   textarea drops out of the tab order, so keyboard users are never trapped; Enter goes back in.
//   Unlike JupyterLab's terminal, the first Escape is held back until it is known not to be the first of
//   two: sent to the shell, readline takes it as a Meta prefix and eats the first key typed after coming
//   back (`cho ccc`). A lone Escape reaches the program when the window closes, or at once before the next
//   key; in the alternate screen (vi, less, top) it is never held, since those programs want it promptly
//   and take a stray one in their stride.
// * Left, the terminal gives the notebook its keys back where it matters: Ctrl+S (Cmd+S) saves the
//   notebook. (The widget root suppresses Lumino's shortcuts, so the key is handed to the notebook.)
// * Shift+Enter sends a newline (as in JupyterLab's terminal). Ctrl+C copies when text is selected
//   and Ctrl+V pastes through the browser's paste event (not on macOS, where Cmd does both).
// * Ctrl+Shift+F opens the search box.

const ESCAPE_WINDOW_MS = 350;
const IS_MAC = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform || "");

/**
 * @param {import("@xterm/xterm").Terminal} term
 * @param {HTMLElement} root element that receives keydown in the capture phase
 * @param {{ input(data: string): void, openSearch(): void }} actions
 * @returns {() => void} removes the listeners
 */
export function attachKeys(term, root, actions) {
  term.attachCustomKeyEventHandler((event) => {
    if (event.isComposing || event.keyCode === 229) return true;
    const keydown = event.type === "keydown";
    if (keydown && event.shiftKey && event.key === "Enter" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault(); // also suppresses the keypress that would send a second newline
      actions.input("\n");
      return false;
    }
    if (keydown && event.ctrlKey && event.shiftKey && (event.key === "F" || event.key === "f")) {
      event.preventDefault();
      actions.openSearch();
      return false;
    }
    if (IS_MAC) return true;
    // The two below leave the key to the browser, so they must hold for keypress and keyup too: a
    // keypress that xterm saw would still send ^C.
    const ctrlOnly = event.ctrlKey && !event.shiftKey && !event.altKey && !event.metaKey;
    const key = event.key.toLowerCase(); // "C" with Caps Lock (and from some automation tools)
    if (ctrlOnly && key === "c" && term.hasSelection()) {
      return false; // the browser copies; xterm puts its selection on the clipboard in the copy event
    }
    if (ctrlOnly && key === "v") {
      return false; // the browser pastes; xterm handles the paste event (bracketed paste included)
    }
    return true;
  });

  let escapedOnce = false;
  let held = false; // the first Escape, not yet sent to the program
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const release = () => {
    if (held) {
      held = false;
      actions.input("\x1b");
    }
  };
  const reset = () => {
    escapedOnce = false;
    clearTimeout(timer);
    release();
  };

  /** @param {KeyboardEvent} event */
  const onKeyDown = (event) => {
    const viewport = term.element?.querySelector(".xterm-viewport");
    const textarea = term.textarea;
    const active = document.activeElement;
    const inViewport = !!active && !!viewport && (active === viewport || viewport.contains(active));
    const inTextarea = !!textarea && active === textarea;
    if (event.key === "Escape") {
      if (!inTextarea) return reset();
      if (!escapedOnce) {
        escapedOnce = true;
        clearTimeout(timer);
        timer = setTimeout(reset, ESCAPE_WINDOW_MS);
        if (term.buffer.active.type === "normal" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
          held = true; // see the top of this file: sent when the window closes or before the next key
          event.preventDefault();
          event.stopPropagation();
        }
        return;
      }
      held = false; // the second Escape: the first is not for the program
      reset();
      event.preventDefault();
      event.stopPropagation();
      if (textarea) textarea.tabIndex = -1;
      if (viewport instanceof HTMLElement) {
        viewport.setAttribute("tabindex", "0");
        viewport.focus();
      }
      return;
    }
    reset(); // a held Escape goes first, then this key (xterm handles it after this capture listener)
    if (inViewport && (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      // Save: Lumino does not match shortcuts inside the widget root (data-lm-suppress-shortcuts), so the
      // key is handed to the element around it, from where the notebook's keymap finds it.
      event.preventDefault(); // not the browser's "Save page"
      event.stopPropagation();
      const outside = root.parentElement;
      outside?.dispatchEvent(
        new KeyboardEvent("keydown", {
          key: event.key,
          code: event.code,
          keyCode: event.keyCode,
          ctrlKey: event.ctrlKey,
          metaKey: event.metaKey,
          shiftKey: event.shiftKey,
          bubbles: true,
          cancelable: true,
          composed: true,
        }),
      );
      return;
    }
    if (inViewport && event.key === "Enter") {
      event.preventDefault();
      event.stopPropagation();
      if (textarea) {
        textarea.tabIndex = 0;
        textarea.focus();
      }
    } else if (inViewport && event.key === "Tab" && textarea) {
      textarea.tabIndex = -1;
    }
  };
  root.addEventListener("keydown", onKeyDown, true);
  return () => {
    reset();
    root.removeEventListener("keydown", onKeyDown, true);
  };
}
