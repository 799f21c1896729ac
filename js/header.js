// The slim header: where (namespace / pod / container), the status, and actions (find, copy, reconnect).
// Everything that comes from the kernel or the cluster is set with textContent, never as HTML.

import { button, h } from "./dom.js";

/** @typedef {import("./protocol.js").Traits} Traits */

/**
 * One line for the status, as the user reads it.
 * @param {Pick<Traits, "status" | "status_detail" | "exit_code">} s
 */
export function statusText(s) {
  switch (s.status) {
    case "connecting":
      return s.status_detail ? `connecting… — ${s.status_detail}` : "connecting…";
    case "connected":
      return "connected";
    case "exited":
      return `exited with code ${s.exit_code ?? "?"}`;
    case "disconnected":
      return s.status_detail ? `disconnected — ${s.status_detail}` : "disconnected";
    case "error":
      return s.status_detail ? `error — ${s.status_detail}` : "error";
    case "closed":
      return "closed";
    default:
      return String(s.status);
  }
}

/**
 * @typedef {{
 *   reconnect(): void,
 *   copy(): Promise<boolean>,
 *   find(query: string, forward: boolean, incremental: boolean): void,
 *   closeSearch(): void,
 * }} HeaderActions
 */

export class Header {
  /** @param {HeaderActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.node = h("div", "k8sterm-header");
    this.title = h("span", "k8sterm-title");
    this.namespace = h("span", "k8sterm-namespace");
    this.pod = h("span", "k8sterm-pod");
    this.container = h("span", "k8sterm-container");
    this.badge = h("span", "k8sterm-badge");
    this.badge.hidden = true;
    this.title.append(this.namespace, this.pod, this.container, this.badge);
    this.status = h("span", "k8sterm-status");
    this.dot = h("span", "k8sterm-dot");
    this.statusText = h("span", "k8sterm-status-text");
    this.status.append(this.dot, this.statusText);

    this.search = h("span", "k8sterm-search");
    this.search.hidden = true;
    this.query = /** @type {HTMLInputElement} */ (h("input", "k8sterm-query"));
    this.query.type = "text";
    this.query.placeholder = "Find";
    this.query.setAttribute("aria-label", "Find in terminal");
    this.count = h("span", "k8sterm-count");
    const prev = button("↑", "find-previous", { title: "Previous match (Shift+Enter)" });
    const next = button("↓", "find-next", { title: "Next match (Enter)" });
    const close = button("×", "find-close", { title: "Close (Escape)" });
    this.search.append(this.query, this.count, prev, next, close);

    this.findButton = button("Find", "find", { title: "Find in the terminal (Ctrl+Shift+F)" });
    this.copyButton = button("Copy", "copy", {
      title: "Copy the selection, or the whole terminal when nothing is selected",
    });
    this.reconnectButton = button("Reconnect", "reconnect", { title: "End this session and open a new one" });
    this.node.append(
      this.title,
      this.status,
      h("span", "k8sterm-spacer"),
      this.search,
      this.findButton,
      this.copyButton,
      this.reconnectButton,
    );

    this.node.addEventListener("click", (event) => this.onClick(event));
    this.query.addEventListener("input", () => this.actions.find(this.query.value, true, true));
    this.query.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.actions.find(this.query.value, !event.shiftKey, false);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.hideSearch();
      }
    });
  }

  /** @param {MouseEvent} event */
  onClick(event) {
    const target = /** @type {HTMLElement | null} */ (event.target);
    const action = target?.closest("button")?.dataset.action;
    if (!action) return;
    if (action === "reconnect") this.actions.reconnect();
    else if (action === "copy") this.copied(this.actions.copy());
    else if (action === "find") this.search.hidden ? this.showSearch() : this.hideSearch();
    else if (action === "find-next") this.actions.find(this.query.value, true, false);
    else if (action === "find-previous") this.actions.find(this.query.value, false, false);
    else if (action === "find-close") this.hideSearch();
  }

  showSearch() {
    this.search.hidden = false;
    this.findButton.setAttribute("aria-pressed", "true");
    this.query.focus();
    this.query.select();
  }

  hideSearch() {
    this.search.hidden = true;
    this.findButton.setAttribute("aria-pressed", "false");
    this.count.textContent = "";
    this.actions.closeSearch();
  }

  /** @param {number} index @param {number} total */
  setCount(index, total) {
    this.count.textContent = total ? `${index + 1}/${total}` : this.query.value ? "0/0" : "";
  }

  /** @param {Promise<boolean>} done */
  async copied(done) {
    const ok = await done;
    const b = this.copyButton;
    b.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (b.textContent = "Copy"), 1200);
  }

  /** @param {Traits} s */
  update(s) {
    this.namespace.textContent = s.namespace || "";
    this.namespace.hidden = !s.namespace;
    this.pod.textContent = s.pod;
    this.container.textContent = s.container || "";
    this.container.hidden = !s.container;
    this.container.title = s.notes.join("\n");
    this.badge.textContent = s.badge || "";
    this.badge.hidden = !s.badge;
    this.badge.title = s.notes.join("\n");
    const text = statusText(s);
    this.status.dataset.state = s.status;
    this.statusText.textContent = text;
    this.status.title = text;
    this.reconnectButton.classList.toggle("k8sterm-primary", s.status !== "connected" && s.status !== "connecting");
  }
}
