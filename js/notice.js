// The line between the header and the screen: an error (with the actions it offers, e.g. "Debug with
// busybox" when the image has no shell), or the banner of a session restored from the notebook.
// Text from the kernel or the cluster is set with textContent, never as HTML.

import { button, h } from "./dom.js";

/** @typedef {import("./protocol.js").Traits} Traits */

/** Buttons an error line can offer (the `offers` trait names them). */
export const OFFERS = {
  debug: {
    label: "Debug with busybox",
    title: "Open a shell in an ephemeral debug container (busybox:1.36) that shares this container's processes",
  },
};

export const RESTORED_TEXT = "Session ended — this is the last screen, saved with the notebook.";

/**
 * @param {HTMLElement} el the message element
 * @param {Traits} s
 * @param {boolean} restored showing a transcript saved with the notebook, no live session
 * @param {(offer: string) => void} act
 */
export function showNotice(el, s, restored, act) {
  const error = s.status === "error";
  el.hidden = !error && !restored;
  el.classList.toggle("k8sterm-banner", restored && !error);
  el.replaceChildren();
  if (error) {
    el.append(h("span", "k8sterm-message-text", s.status_detail));
    for (const name of s.offers ?? []) {
      const offer = OFFERS[/** @type {keyof typeof OFFERS} */ (name)];
      if (!offer) continue;
      const b = button(offer.label, name, { title: offer.title, className: "k8sterm-button k8sterm-offer" });
      b.addEventListener("click", () => {
        b.disabled = true;
        act(name);
      });
      el.append(b);
    }
  } else if (restored) {
    el.append(h("span", "k8sterm-message-text", RESTORED_TEXT));
  }
}
