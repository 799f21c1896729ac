// Building the widgets' DOM. Everything that comes from the kernel, the cluster or a pod goes in as text
// (textContent), never as HTML: these two helpers are the only way the front end makes its elements' text.

/**
 * An element with a class and text.
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
export function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A button that names its action in `data-action` (handlers and tests find it by that), with a tooltip.
 * @param {string} label
 * @param {string} action
 * @param {{ title?: string, className?: string }} [options]
 */
export function button(label, action, { title = "", className = "k8sterm-button" } = {}) {
  const b = /** @type {HTMLButtonElement} */ (h("button", className, label));
  b.type = "button";
  b.dataset.action = action;
  if (title) b.title = title;
  return b;
}
