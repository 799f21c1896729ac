/**
 * The static face of a widget (k8sterm_widget/face.py) is an output of its own, right after the widget's:
 * the last screen as plain HTML, for readers without the widget (GitHub, nbconvert, an untrusted notebook).
 * Where a live view of the same widget renders, that face is hidden, so a reader never sees both: one
 * style element for the page lists the faces of the widgets with a view here (`data-k8sterm-face` holds
 * the widget's `_uid`). In JupyterLab, Notebook 7 and Voilà the face's whole output row goes, prompt
 * area included; elsewhere the face itself.
 */

/** @type {Map<string, number>} views shown per widget uid */
const views = new Map();
/** @type {HTMLStyleElement | null} */
let style = null;

function update() {
  if (typeof document === "undefined") return;
  if (!style || !style.isConnected) {
    style = document.createElement("style");
    style.dataset.k8stermFaces = "";
    document.head.appendChild(style);
  }
  const selectors = [];
  for (const uid of views.keys()) {
    const face = `[data-k8sterm-face="${CSS.escape(uid)}"]`;
    selectors.push(face, `.jp-OutputArea-child:has(${face})`);
  }
  style.textContent = selectors.length ? `${selectors.join(",\n")} { display: none !important; }` : "";
}

/**
 * Hide the face of widget `uid` while this view lives; returns the function that shows it again.
 * @param {string} uid
 * @returns {() => void}
 */
export function hideFace(uid) {
  if (!uid) return () => {};
  views.set(uid, (views.get(uid) ?? 0) + 1);
  update();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const left = (views.get(uid) ?? 1) - 1;
    if (left > 0) views.set(uid, left);
    else views.delete(uid);
    update();
  };
}

/**
 * A view's life as anywidget's `render` returns it: the face hidden while the view lives; shown again,
 * and the view disposed, once, when anywidget calls the returned cleanup or aborts `signal`.
 * @param {{ dispose(): void }} view
 * @param {string} uid the widget's `_uid`
 * @param {AbortSignal | undefined} signal
 * @returns {() => void}
 */
export function whileShown(view, uid, signal) {
  const showFace = hideFace(uid);
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    showFace();
    view.dispose();
  };
  signal?.addEventListener("abort", cleanup, { once: true });
  return cleanup;
}
