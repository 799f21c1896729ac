/**
 * Front end of k8sterm_widget.Terminal: xterm.js in a notebook cell, bytes over the widget's comm.
 *
 * `initialize` (once per widget model in this page) creates the Controller: handshake, screen log, flow
 * control acks, checkpoints, pty size. `render` (once per view) creates a View that draws and takes keys.
 * Protocol: k8sterm_widget/widget/protocol.py (mirrored in protocol.js).
 *
 * Automation hook (tests, benchmarks): every view's root element has the class `k8sterm` and a
 * read-only `terminal` property holding the live xterm.js `Terminal`:
 *
 *     const term = document.querySelector(".k8sterm").terminal;
 *     term.buffer.active.getLine(0).translateToString(true);
 *     term.input("echo hi\r", true);   // as if typed
 *
 * The root also carries `data-status` (connecting, connected, exited, disconnected, error, closed).
 * Both anywidget cleanup styles are supported: the returned function and the `signal`.
 */
import "@xterm/xterm/css/xterm.css";
import "./style.css";

import { Controller, controllers } from "./controller.js";
import { whileShown } from "./face.js";
import { View } from "./view.js";

/** @typedef {import("./protocol.js").Traits} Traits */

/** @type {import("@anywidget/types").Initialize<Traits>} */
function initialize({ model, signal }) {
  const uid = model.get("_uid");
  controllers.get(uid)?.dispose(); // re-initialized (hot reload of the module)
  const ctl = new Controller(model);
  controllers.set(uid, ctl);
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    ctl.dispose();
    if (controllers.get(uid) === ctl) controllers.delete(uid);
  };
  signal?.addEventListener("abort", cleanup, { once: true });
  return cleanup;
}

/** @type {import("@anywidget/types").Render<Traits>} */
function render({ model, el, signal }) {
  const uid = model.get("_uid");
  let ctl = controllers.get(uid);
  if (!ctl) {
    // A host that skipped initialize: run one here (it lives as long as this view).
    ctl = new Controller(model);
    controllers.set(uid, ctl);
  }
  return whileShown(new View(ctl, model, el), uid, signal);
}

export default { initialize, render };
