/**
 * Front end of k8sterm_widget.PodBrowser: context/namespace pickers, a live pod table, shells in tabs.
 *
 * Everything shown comes from synced traits (k8sterm_widget/browser/_widget.py) and is set with
 * textContent. Actions go to the kernel as custom messages (`open`, `debug`, `attach`, `close`, `select`,
 * `refresh`, `views`), which it validates. Each tab is a k8sterm Terminal widget rendered into its panel
 * with anywidget's `host.getWidget(ref).render({el, signal})`; closing the tab aborts that signal.
 *
 * Automation hook (tests): the root `.k8sterm-browse` has `data-state` (connecting, live, …); pod rows are
 * `tr.k8sterm-browse-pod[data-pod]`, containers `.k8sterm-browse-container[data-container]`, their buttons carry
 * `data-action` (shell, debug, attach), tabs are `.k8sterm-tab[data-tab]`.
 */
import "./browse.css";

import { whileShown } from "./face.js";
import { button, h } from "./dom.js";
import { humanDuration } from "./duration.js";
import { sendToKernel } from "./transport.js";

/**
 * @typedef {{ name: string, kind: "container" | "init" | "sidecar" | "ephemeral", image: string,
 *   state: "running" | "waiting" | "terminated" | "unknown", reason: string, ready: boolean, restarts: number,
 *   execable: boolean, target?: string, attachable?: boolean }} ContainerRow
 * @typedef {{ name: string, namespace: string, status: string, phase: string, ready: string, restarts: number,
 *   created: string, node: string, default: string, containers: ContainerRow[] }} PodRow
 * @typedef {{ id: string, ref: string, title: string, kind: "shell" | "debug" | "attach" }} Tab
 * @typedef {{ contexts: string[], context: string, namespaces: string[], namespace: string,
 *   namespace_note: string, pods: PodRow[], state: string, state_detail: string, error: string,
 *   tabs: Tab[], selected: string, _uid: string }} BrowserTraits
 * @typedef {import("@anywidget/types").AnyModel<BrowserTraits>} Model
 * @typedef {{ tr: HTMLTableRowElement, detail: HTMLTableRowElement, key: string, cells: HTMLElement[],
 *   shell: HTMLButtonElement, debug: HTMLButtonElement }} Row
 */

/** Views of each browser model in this page (the kernel stops its watch when none is left). */
const viewCounts = new Map();

/** @param {string} created */
function age(created) {
  const t = Date.parse(created);
  return Number.isNaN(t) ? "" : humanDuration((Date.now() - t) / 1000);
}

/**
 * @param {string} label
 * @param {string} action
 * @param {string} title
 */
const browseButton = (label, action, title) => button(label, action, { title, className: "k8sterm-browse-button" });

/** @param {ContainerRow} c */
function stateText(c) {
  if (c.state === "running") return c.ready || c.kind === "ephemeral" || c.kind === "init" ? "running" : "running, not ready";
  if (c.reason) return `${c.state}: ${c.reason}`;
  return c.state;
}

/** @param {ContainerRow} c */
function shellTitle(c) {
  if (c.execable) return `Open a shell in ${c.name}`;
  return `No shell: ${c.name} is not running (${stateText(c)})`;
}

class BrowserView {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   * @param {import("@anywidget/types").Host} host
   * @param {AbortSignal} signal
   */
  constructor(model, el, host, signal) {
    this.model = model;
    this.host = host;
    this.signal = signal;
    /** @type {Set<string>} pods whose containers are shown */
    this.expanded = new Set();
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** @type {Map<string, {button: HTMLElement, panel: HTMLElement, abort: AbortController}>} */
    this.tabViews = new Map();

    this.root = h("div", "k8sterm-browse");
    this.root.setAttribute("data-lm-suppress-shortcuts", "true");

    // toolbar: context, namespace, live state
    this.toolbar = h("div", "k8sterm-browse-toolbar");
    this.contextSelect = /** @type {HTMLSelectElement} */ (h("select", "k8sterm-browse-context"));
    this.contextSelect.title = "kubeconfig context";
    this.contextSelect.addEventListener("change", () => this.send({ type: "select", context: this.contextSelect.value }));
    this.nsInput = /** @type {HTMLInputElement} */ (h("input", "k8sterm-browse-namespace"));
    this.nsInput.type = "text";
    this.nsInput.spellcheck = false;
    this.nsInput.title = "Namespace (pick one, or type a name and press Enter)";
    this.nsList = h("datalist");
    this.nsList.id = `k8sterm-ns-${Math.random().toString(36).slice(2)}`;
    this.nsInput.setAttribute("list", this.nsList.id);
    const submit = () => {
      const ns = this.nsInput.value.trim();
      if (ns && ns !== model.get("namespace")) this.send({ type: "select", namespace: ns });
    };
    this.nsInput.addEventListener("change", submit);
    this.nsInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        submit();
      }
    });
    this.live = h("span", "k8sterm-browse-live");
    this.liveDot = h("span", "k8sterm-browse-dot");
    this.liveText = h("span", "k8sterm-browse-live-text");
    this.live.append(this.liveDot, this.liveText);
    const refresh = browseButton("↻", "refresh", "List the namespaces and pods again");
    refresh.addEventListener("click", () => this.send({ type: "refresh" }));
    this.toolbar.append(
      h("span", "k8sterm-browse-label", "Context"),
      this.contextSelect,
      h("span", "k8sterm-browse-label", "Namespace"),
      this.nsInput,
      this.nsList,
      this.live,
      h("span", "k8sterm-browse-spacer"),
      refresh,
    );

    this.note = h("div", "k8sterm-browse-note");
    this.error = h("div", "k8sterm-browse-error");

    // pods
    this.table = /** @type {HTMLTableElement} */ (h("table", "k8sterm-browse-pods"));
    const head = h("thead");
    const headRow = h("tr");
    for (const title of ["NAME", "READY", "STATUS", "RESTARTS", "AGE", ""]) headRow.append(h("th", "", title));
    head.append(headRow);
    this.tbody = h("tbody");
    this.table.append(head, this.tbody);
    this.empty = h("div", "k8sterm-browse-empty");

    // tabs
    this.tabs = h("div", "k8sterm-browse-tabs");
    this.strip = h("div", "k8sterm-browse-strip");
    this.strip.setAttribute("role", "tablist");
    this.panels = h("div", "k8sterm-browse-panels");
    this.tabs.append(this.strip, this.panels);

    this.root.append(this.toolbar, this.note, this.error, this.table, this.empty, this.tabs);
    el.append(this.root);

    this.tbody.addEventListener("click", (event) => this.onTableClick(event));

    const on = (/** @type {string} */ name, /** @type {() => void} */ fn) => model.on(`change:${name}`, fn);
    on("contexts", () => this.renderToolbar());
    on("context", () => this.renderToolbar());
    on("namespaces", () => this.renderToolbar());
    on("namespace", () => this.renderToolbar());
    on("namespace_note", () => this.renderToolbar());
    on("state", () => this.renderToolbar());
    on("state_detail", () => this.renderToolbar());
    on("error", () => this.renderToolbar());
    on("pods", () => this.renderPods());
    on("tabs", () => this.renderTabs());
    on("selected", () => this.renderTabs());
    this.ticker = setInterval(() => this.tick(), 5000);

    const uid = model.get("_uid");
    viewCounts.set(uid, (viewCounts.get(uid) ?? 0) + 1);
    this.send({ type: "views", count: viewCounts.get(uid) });

    this.renderToolbar();
    this.renderPods();
    this.renderTabs();
  }

  /** @param {Record<string, unknown>} content */
  send(content) {
    sendToKernel(this.model, content);
  }

  // ------------------------------------------------------------------ toolbar

  renderToolbar() {
    const m = this.model;
    const contexts = m.get("contexts") ?? [];
    const context = m.get("context");
    const options = contexts.length ? contexts : [context || "(in-cluster)"];
    if ([...this.contextSelect.options].map((o) => o.value).join("\n") !== options.join("\n")) {
      this.contextSelect.replaceChildren(...options.map((name) => {
        const o = /** @type {HTMLOptionElement} */ (h("option", "", name));
        o.value = name;
        return o;
      }));
    }
    this.contextSelect.value = context;
    this.contextSelect.disabled = contexts.length < 2;
    if (document.activeElement !== this.nsInput) this.nsInput.value = m.get("namespace");
    this.nsList.replaceChildren(...(m.get("namespaces") ?? []).map((name) => {
      const o = /** @type {HTMLOptionElement} */ (h("option"));
      o.value = name;
      return o;
    }));
    const state = m.get("state");
    const detail = m.get("state_detail");
    const texts = /** @type {Record<string, string>} */ ({
      connecting: "connecting…",
      live: "live",
      reconnecting: "reconnecting…",
      failed: "stopped",
      paused: "paused",
      stopped: "stopped",
    });
    this.root.dataset.state = state;
    this.live.dataset.state = state;
    this.liveText.textContent = texts[state] ?? state;
    this.live.title = state === "live" ? "The list follows the cluster through a watch" : detail || texts[state] || state;
    const note = m.get("namespace_note");
    this.note.textContent = note;
    this.note.hidden = !note;
    const error = m.get("error");
    this.error.textContent = error;
    this.error.hidden = !error;
  }

  // ------------------------------------------------------------------ pods

  renderPods() {
    const pods = this.model.get("pods") ?? [];
    const seen = new Set();
    for (const pod of pods) {
      seen.add(pod.name);
      let row = this.rows.get(pod.name);
      if (!row) row = this.createRow(pod);
      this.updateRow(row, pod);
      this.tbody.append(row.tr, row.detail); // moves existing rows into order without recreating them
    }
    for (const [name, row] of this.rows) {
      if (seen.has(name)) continue;
      row.tr.remove();
      row.detail.remove();
      this.rows.delete(name);
      this.expanded.delete(name);
    }
    const state = this.model.get("state");
    this.empty.textContent = pods.length
      ? ""
      : state === "live"
        ? `No pods in namespace "${this.model.get("namespace")}".`
        : state === "connecting"
          ? "Loading pods…"
          : "";
    this.empty.hidden = !this.empty.textContent;
  }

  /** @param {PodRow} pod */
  createRow(pod) {
    const tr = /** @type {HTMLTableRowElement} */ (h("tr", "k8sterm-browse-pod"));
    tr.dataset.pod = pod.name;
    tr.title = "Click to show the containers";
    const cells = [h("td", "k8sterm-browse-pod-name"), h("td"), h("td"), h("td"), h("td"), h("td", "k8sterm-browse-pod-actions")];
    const shell = browseButton("Shell", "shell", "");
    const debug = browseButton("Debug", "debug", "Open a shell in a new ephemeral debug container (busybox) that sees this pod's processes");
    cells[5].append(shell, debug);
    tr.append(...cells);
    const detail = /** @type {HTMLTableRowElement} */ (h("tr", "k8sterm-browse-pod-detail"));
    detail.hidden = true;
    const row = { tr, detail, key: "", cells, shell, debug };
    this.rows.set(pod.name, row);
    return row;
  }

  /**
   * @param {Row} row
   * @param {PodRow} pod
   */
  updateRow(row, pod) {
    const [name, ready, status, restarts, ageCell] = row.cells;
    name.textContent = pod.name;
    ready.textContent = pod.ready;
    status.textContent = pod.status;
    status.dataset.status = pod.status;
    restarts.textContent = String(pod.restarts);
    ageCell.textContent = age(pod.created);
    ageCell.dataset.created = pod.created;
    const main = pod.containers.find((c) => c.name === pod.default);
    row.shell.disabled = !main?.execable;
    row.shell.dataset.container = pod.default;
    row.shell.title = main ? shellTitle(main) : "This pod has no containers";
    const finished = pod.phase === "Succeeded" || pod.phase === "Failed";
    row.debug.disabled = finished || !pod.node;
    row.debug.title = finished
      ? "A finished pod runs no new containers"
      : !pod.node
        ? "The pod is not scheduled on a node yet"
        : "Open a shell in a new ephemeral debug container (busybox) that sees this pod's processes";
    const open = this.expanded.has(pod.name);
    row.tr.classList.toggle("k8sterm-expanded", open);
    row.detail.hidden = !open;
    const key = JSON.stringify(pod.containers);
    if (open && key !== row.key) {
      row.key = key;
      const td = /** @type {HTMLTableCellElement} */ (h("td"));
      td.colSpan = 6;
      for (const c of pod.containers) td.append(this.containerEntry(pod, c));
      row.detail.replaceChildren(td);
    }
  }

  /**
   * @param {PodRow} pod
   * @param {ContainerRow} c
   */
  containerEntry(pod, c) {
    const div = h("div", "k8sterm-browse-container");
    div.dataset.container = c.name;
    div.dataset.state = c.state;
    const name = h("span", "k8sterm-browse-container-name", c.name);
    div.append(name);
    if (c.kind !== "container") {
      const kind = h("span", `k8sterm-browse-kind k8sterm-browse-kind-${c.kind}`, c.kind);
      kind.title = {
        init: "init container: runs to completion before the others start",
        sidecar: "sidecar: an init container with restartPolicy Always, running beside the app",
        ephemeral: `ephemeral debug container${c.target ? ` (target ${c.target})` : ""}`,
        container: "",
      }[c.kind];
      div.append(kind);
    }
    div.append(h("span", "k8sterm-browse-container-state", stateText(c)));
    if (c.restarts) div.append(h("span", "k8sterm-browse-container-restarts", `${c.restarts} restarts`));
    div.append(h("span", "k8sterm-browse-container-image", c.image));
    const shell = browseButton("Shell", "shell", shellTitle(c));
    shell.disabled = !c.execable;
    shell.dataset.container = c.name;
    div.append(shell);
    if (c.kind === "ephemeral") {
      if (c.attachable) {
        const attach = browseButton("Attach", "attach", `Attach to ${c.name}'s own shell (as kubectl attach -it)`);
        attach.dataset.container = c.name;
        div.append(attach);
      }
    } else if (c.kind === "container") {
      const debug = browseButton("Debug", "debug", `A debug container (busybox) that sees the processes of ${c.name}`);
      debug.dataset.container = c.name;
      div.append(debug);
    }
    return div;
  }

  /** @param {MouseEvent} event */
  onTableClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const tr = target.closest("tr.k8sterm-browse-pod, tr.k8sterm-browse-pod-detail");
    const pod = tr?.classList.contains("k8sterm-browse-pod")
      ? /** @type {HTMLElement} */ (tr).dataset.pod
      : /** @type {HTMLElement | null} */ (tr?.previousElementSibling ?? null)?.dataset.pod;
    if (!pod) return;
    const b = /** @type {HTMLButtonElement | null} */ (target.closest("button"));
    if (b) {
      if (b.disabled) return;
      const container = b.dataset.container || "";
      const action = b.dataset.action;
      if (action === "shell") this.send({ type: "open", pod, container });
      else if (action === "debug") this.send({ type: "debug", pod, target: container });
      else if (action === "attach") this.send({ type: "attach", pod, container });
      return;
    }
    if (tr?.classList.contains("k8sterm-browse-pod")) {
      if (this.expanded.has(pod)) this.expanded.delete(pod);
      else this.expanded.add(pod);
      const row = this.rows.get(pod);
      if (row) row.key = "";
      this.renderPods();
    }
  }

  tick() {
    for (const cell of this.tbody.querySelectorAll("td[data-created]")) {
      cell.textContent = age(/** @type {HTMLElement} */ (cell).dataset.created ?? "");
    }
  }

  // ------------------------------------------------------------------ tabs

  renderTabs() {
    const tabs = this.model.get("tabs") ?? [];
    const selected = this.model.get("selected") || tabs[tabs.length - 1]?.id || "";
    const ids = new Set(tabs.map((tab) => tab.id));
    for (const [id, view] of this.tabViews) {
      if (ids.has(id)) continue;
      view.abort.abort();
      view.button.remove();
      view.panel.remove();
      this.tabViews.delete(id);
    }
    for (const tab of tabs) {
      let view = this.tabViews.get(tab.id);
      if (!view) view = this.createTab(tab);
      this.strip.append(view.button);
      const active = tab.id === selected;
      view.button.setAttribute("aria-selected", String(active));
      view.panel.hidden = !active;
    }
    this.tabs.hidden = tabs.length === 0;
  }

  /** @param {Tab} tab */
  createTab(tab) {
    const abort = new AbortController();
    this.signal.addEventListener("abort", () => abort.abort(), { once: true });
    const tabButton = h("div", `k8sterm-tab k8sterm-tab-${tab.kind}`);
    tabButton.dataset.tab = tab.id;
    tabButton.setAttribute("role", "tab");
    const dot = h("span", "k8sterm-browse-dot");
    const title = h("span", "k8sterm-tab-title", tab.title);
    const close = browseButton("×", "close", "Close this tab and end its session");
    tabButton.append(dot, title, close);
    tabButton.addEventListener("click", (event) => {
      if (/** @type {HTMLElement} */ (event.target).closest("button")) {
        this.send({ type: "close", id: tab.id });
        return;
      }
      this.model.set("selected", tab.id);
      this.model.save_changes();
      this.renderTabs();
    });
    const panel = h("div", "k8sterm-tab-panel");
    panel.dataset.tab = tab.id;
    this.panels.append(panel);
    const view = { button: tabButton, panel, abort };
    this.tabViews.set(tab.id, view);
    this.host
      .getWidget(tab.ref)
      .then((widget) => widget.render({ el: panel, signal: abort.signal }))
      .catch((e) => {
        panel.replaceChildren(h("div", "k8sterm-browse-error", `This terminal could not be shown: ${e}`));
      });
    this.host
      .getModel(tab.ref)
      .then((child) => {
        const status = () => {
          dot.dataset.state = String(child.get("status"));
          tabButton.title = `${tab.title}: ${child.get("status")}`;
        };
        child.on("change:status", status);
        status();
      })
      .catch(() => {});
    return view;
  }

  dispose() {
    clearInterval(this.ticker);
    for (const view of this.tabViews.values()) view.abort.abort();
    this.tabViews.clear();
    const uid = this.model.get("_uid");
    const count = Math.max(0, (viewCounts.get(uid) ?? 1) - 1);
    viewCounts.set(uid, count);
    this.send({ type: "views", count });
    this.root.remove();
  }
}

/** @type {import("@anywidget/types").Render<BrowserTraits>} */
function render({ model, el, host, signal }) {
  return whileShown(new BrowserView(model, el, host, signal), model.get("_uid"), signal);
}

export default { render };
