// js/keys.js: which keys stay in the terminal, and how the keyboard leaves it and comes back (as
// JupyterLab's own terminal does, without eating a key on the way back). xterm and the page are stood in
// for by small fakes; the Escape window runs on node's mock timers.
import assert from "node:assert/strict";
import { after, mock, test } from "node:test";

import { attachKeys } from "../../js/keys.js";

const saved = {
  document: globalThis.document,
  HTMLElement: globalThis.HTMLElement,
  KeyboardEvent: globalThis.KeyboardEvent,
};
after(() => Object.assign(globalThis, saved));

/** Stands in for the page's HTMLElement (keys.js checks the viewport is one). */
class FakeHTMLElement {}

class FakeViewport extends FakeHTMLElement {
  constructor() {
    super();
    this.attributes = {};
    this.focused = false;
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
  contains(node) {
    return node === this;
  }
  focus() {
    this.focused = true;
    globalThis.document.activeElement = this;
  }
}

/** What keys.js hands on to the notebook (Ctrl+S). */
class FakeKeyboardEvent {
  constructor(type, init) {
    Object.assign(this, { type, ...init });
  }
}

/** A terminal, its root and the actions, wired by attachKeys; `key()` sends a keydown to the root. */
function setup({ selection = false, screen = "normal" } = {}) {
  globalThis.HTMLElement = /** @type {any} */ (FakeHTMLElement);
  globalThis.KeyboardEvent = /** @type {any} */ (FakeKeyboardEvent);
  const viewport = new FakeViewport();
  const textarea = {
    tabIndex: 0,
    focus() {
      globalThis.document.activeElement = textarea;
    },
  };
  globalThis.document = /** @type {any} */ ({ activeElement: textarea });
  let handler = /** @type {(e: any) => boolean} */ (() => true);
  const term = {
    textarea,
    buffer: { active: { type: screen } },
    element: { querySelector: (sel) => (sel === ".xterm-viewport" ? viewport : null) },
    hasSelection: () => selection,
    attachCustomKeyEventHandler: (fn) => (handler = fn),
  };
  const listeners = [];
  const outside = [];
  const root = {
    parentElement: { dispatchEvent: (e) => outside.push(e) },
    addEventListener: (type, fn, capture) => listeners.push({ type, fn, capture }),
    removeEventListener: (type, fn) => listeners.splice(listeners.findIndex((l) => l.fn === fn), 1),
  };
  const typed = [];
  let searches = 0;
  const detach = attachKeys(/** @type {any} */ (term), /** @type {any} */ (root), {
    input: (data) => typed.push(data),
    openSearch: () => searches++,
  });
  const event = (props) => ({
    type: "keydown",
    key: "",
    shiftKey: false,
    ctrlKey: false,
    altKey: false,
    metaKey: false,
    prevented: false,
    stopped: false,
    preventDefault() {
      this.prevented = true;
    },
    stopPropagation() {
      this.stopped = true;
    },
    ...props,
  });
  /** What xterm's custom handler says (true: xterm handles the key). */
  const xterm = (props) => {
    const e = event(props);
    return { handled: handler(e), e };
  };
  /** A keydown on the root, in the capture phase. */
  const key = (props) => {
    const e = event(props);
    for (const l of [...listeners]) l.fn(e);
    return e;
  };
  return { term, textarea, viewport, listeners, outside, typed, searches: () => searches, detach, xterm, key };
}

test("Shift+Enter types a newline, once", () => {
  const t = setup();
  const { handled, e } = t.xterm({ key: "Enter", shiftKey: true });
  assert.equal(handled, false);
  assert.equal(e.prevented, true);
  assert.deepEqual(t.typed, ["\n"]);
  assert.equal(t.xterm({ key: "Enter", shiftKey: true, type: "keyup" }).handled, true);
  assert.equal(t.xterm({ key: "Enter", shiftKey: true, ctrlKey: true }).handled, true);
});

test("Ctrl+Shift+F opens the search box", () => {
  const t = setup();
  assert.equal(t.xterm({ key: "F", ctrlKey: true, shiftKey: true }).handled, false);
  assert.equal(t.xterm({ key: "f", ctrlKey: true, shiftKey: true }).handled, false);
  assert.equal(t.searches(), 2);
});

test("Ctrl+C copies a selection (else it is ^C for the shell); Ctrl+V is the browser's paste", () => {
  assert.equal(setup().xterm({ key: "c", ctrlKey: true }).handled, true);
  const selected = setup({ selection: true });
  assert.equal(selected.xterm({ key: "c", ctrlKey: true }).handled, false);
  assert.equal(selected.xterm({ key: "C", ctrlKey: true, type: "keypress" }).handled, false); // Caps Lock
  assert.equal(selected.xterm({ key: "c", ctrlKey: true, shiftKey: true }).handled, true);
  assert.equal(setup().xterm({ key: "v", ctrlKey: true }).handled, false);
  assert.equal(setup().xterm({ key: "x", isComposing: true }).handled, true); // an IME at work
});

test("Escape twice leaves the terminal for its viewport; Enter goes back in, and no key is eaten", () => {
  const t = setup();
  const first = t.key({ key: "Escape" });
  assert.equal(first.prevented, true); // held: sent to the shell, readline would eat the next key
  const second = t.key({ key: "Escape" });
  assert.equal(second.prevented && second.stopped, true);
  assert.deepEqual(t.typed, []); // neither Escape reached the shell
  assert.equal(t.textarea.tabIndex, -1);
  assert.equal(t.viewport.attributes.tabindex, "0");
  assert.equal(globalThis.document.activeElement, t.viewport);
  const enter = t.key({ key: "Enter" });
  assert.equal(enter.prevented, true);
  assert.equal(t.textarea.tabIndex, 0);
  assert.equal(globalThis.document.activeElement, t.textarea);
  assert.deepEqual(t.typed, []);
  t.detach();
});

test("a lone Escape reaches the program: before the next key, or when the window closes", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const t = setup();
    t.key({ key: "Escape" });
    t.key({ key: "j" });
    assert.deepEqual(t.typed, ["\x1b"]); // first the Escape, then xterm types the j
    assert.equal(globalThis.document.activeElement, t.textarea);
    assert.equal(t.textarea.tabIndex, 0);
    t.key({ key: "Escape" });
    mock.timers.tick(349);
    assert.deepEqual(t.typed, ["\x1b"]);
    mock.timers.tick(1);
    assert.deepEqual(t.typed, ["\x1b", "\x1b"]);
    t.detach();
  } finally {
    mock.timers.reset();
  }
});

test("in the alternate screen (vi, less) the first Escape is never held", () => {
  const t = setup({ screen: "alternate" });
  assert.equal(t.key({ key: "Escape" }).prevented, false);
  t.key({ key: "j" });
  assert.deepEqual(t.typed, []); // xterm itself sent that Escape, at once
  t.detach();
});

test("left, Ctrl+S goes to the notebook (save), not to the browser", () => {
  const t = setup();
  t.key({ key: "Escape" });
  t.key({ key: "Escape" });
  const save = t.key({ key: "s", code: "KeyS", ctrlKey: true });
  assert.equal(save.prevented && save.stopped, true);
  assert.equal(t.outside.length, 1);
  const handed = t.outside[0];
  assert.deepEqual([handed.type, handed.key, handed.ctrlKey, handed.bubbles], ["keydown", "s", true, true]);
  t.detach();
});

test("Tab from the viewport moves on, out of the terminal; detaching removes the listener", () => {
  const t = setup();
  t.key({ key: "Escape" });
  t.key({ key: "Escape" });
  t.key({ key: "Tab" });
  assert.equal(t.textarea.tabIndex, -1);
  assert.equal(t.listeners.length, 1);
  assert.equal(t.listeners[0].capture, true);
  t.detach();
  assert.equal(t.listeners.length, 0);
});
