// js/dom.js: elements get their text as text, and buttons name their action.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { button, h } from "../../js/dom.js";

/** Just enough of a document to build elements. */
class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.dataset = {};
    this.className = "";
    this.textContent = "";
  }
}

const saved = globalThis.document;
before(() => {
  globalThis.document = /** @type {any} */ ({ createElement: (tag) => new FakeElement(tag) });
});
after(() => {
  globalThis.document = saved;
});

test("h makes an element with a class and text, as text", () => {
  const el = /** @type {any} */ (h("span", "k8sterm-title", "<b>pod</b>"));
  assert.deepEqual([el.tagName, el.className, el.textContent], ["SPAN", "k8sterm-title", "<b>pod</b>"]);
  const bare = /** @type {any} */ (h("div"));
  assert.deepEqual([bare.className, bare.textContent], ["", ""]);
});

test("a button: label, action, tooltip and class, in that order", () => {
  const b = /** @type {any} */ (button("Copy", "copy", { title: "Copy the selection" }));
  assert.deepEqual(
    [b.tagName, b.type, b.textContent, b.dataset.action, b.title, b.className],
    ["BUTTON", "button", "Copy", "copy", "Copy the selection", "k8sterm-button"],
  );
  const plain = /** @type {any} */ (button("Play", "play", { className: "k8sterm-browse-button" }));
  assert.deepEqual([plain.title, plain.className], [undefined, "k8sterm-browse-button"]);
});
