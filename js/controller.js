// Model-level state of one terminal widget in this page (created in anywidget's `initialize`).
//
// Why model level: anywidget calls `render` once per view, and a view can come and go (a second
// `display(w)`, "Create New View for Cell Output", a notebook scrolled out and back, a reload). The
// controller owns everything that must outlive a view: the comm handshake, the screen log (checkpoint +
// bytes since), acks, checkpoints and the pty size. Views only draw and collect keys.
//
// Handshake (k8sterm_widget/widget/protocol.py): `ready` (+1-byte probe) → `hello` (+probe back) →
// `replay` request → `replay` (checkpoint + tail) → live `output`. The replay is requested only once a
// view exists: after a page reload JupyterLab restores a model for every widget the kernel still holds,
// displayed or not, and those that nobody looks at should not pull megabytes of screen. Output that
// arrives before our replay, or overlaps it, is deduplicated by offset; a gap (or a `detached` notice:
// the kernel stopped sending because acks stalled) triggers a fresh replay request. That one says what
// the views already show (`have`), and the kernel, when it still holds every byte after it, answers
// with just those (`resume`): the views keep their screens and scrollback. Redrawing them from the
// checkpoint instead would cut a long scrollback to the checkpoint's CHECKPOINT_SCROLLBACK lines — a
// page under load, slow to ack, lost most of a 100,000-line output that way.
//
// Lane (lane.js, k8sterm_widget/lane/__init__.py): when `hello` offers one, the replay waits until the
// lane has opened or failed (at most OPEN_TIMEOUT_MS), so the stream does not change paths mid-way; from
// then on everything we send and the kernel's output go on the lane. A lane that closes sends us back to
// the comm with a replay request, so nothing it was carrying is lost.

import { AckTracker } from "./flow.js";
import { Keeper } from "./keep.js";
import {
  CHECKPOINT_MAX_BYTES,
  CHECKPOINT_MAX_WAIT_MS,
  CHECKPOINT_SETTLE_MS,
  MAX_SIZE,
  MIN_SIZE,
  isKernelMsg,
} from "./protocol.js";
import { Lane, laneUrl } from "./lane.js";
import { ScreenLog } from "./screenlog.js";
import { Channel, binaryString, payloadOf, utf8 } from "./transport.js";

/** @typedef {import("./protocol.js").Traits} Traits */
/** @typedef {import("@anywidget/types").AnyModel<Traits>} Model */

/**
 * What the controller needs from a view (implemented by view.js).
 * @typedef {{
 *   term: import("@xterm/xterm").Terminal,
 *   write(data: Uint8Array, callback?: () => void): void,
 *   restore(log: ScreenLog): void,
 *   serialize(): { data: string, cols: number, rows: number } | null,
 *   size(): { cols: number, rows: number } | null,
 *   t: import("./terminal.js").Term,
 *   opened: boolean,
 * }} ViewLike
 */

/** @type {Map<string, Controller>} one per widget model in this page, keyed by the `_uid` trait */
export const controllers = new Map();

function randomId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Controller {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    this.id = randomId();
    this.channel = new Channel(model, this.id);
    /** @type {boolean | undefined} kernel buffers reach us (learned from `hello`) */
    this.binaryOut = undefined;
    this.log = new ScreenLog();
    /** Offset after the last output byte we have. */
    this.received = 0;
    /** The views show the stream up to `received` (a replay was applied): a new replay can resume. */
    this.synced = false;
    /** @type {"handshake" | "ready" | "replaying" | "live"} */
    this.phase = "handshake";
    /** @type {Lane | null} the lane while it is opening or open */
    this.lane = null;
    /** A replay is wanted but waits for the lane to settle. */
    this.replayWanted = false;
    /** @type {{offset: number, bytes: Uint8Array}[]} output that arrived before our replay */
    this.early = [];
    /** @type {Set<ViewLike>} */
    this.views = new Set();
    /** @type {ViewLike | null} the view that sets the pty size, acks and checkpoints */
    this.active = null;
    /** @type {{cols: number, rows: number} | null} */
    this.sentSize = null;
    this.acks = new AckTracker((offset) => this.channel.send({ type: "ack", offset }));
    this.checkpointed = { offset: -1, cols: 0, rows: 0 };
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.settleTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.maxWaitTimer = undefined;
    /** @type {Set<() => void>} called when the phase changes (views show "waiting for the kernel") */
    this.listeners = new Set();
    this.disposed = false;
    this.startedAt = performance.now();

    /** The transcript saved in the notebook, and snapshots (keep.js). */
    this.keeper = new Keeper(model, () => this.phase !== "handshake", () => this.notify());

    this.onMessage = this.onMessage.bind(this);
    model.on("msg:custom", this.onMessage);
    this.channel.send({ type: "ready", id: this.id }, new Uint8Array([0]));
  }

  // ------------------------------------------------------------------ kernel messages

  /**
   * @param {unknown} msg
   * @param {(DataView | Uint8Array)[]} buffers
   */
  onMessage(msg, buffers) {
    if (this.disposed || !isKernelMsg(msg)) return;
    switch (msg.type) {
      case "hello":
        if (msg.to !== this.id || this.phase !== "handshake") return;
        this.channel.binaryIn = msg.binary_in === true;
        this.binaryOut = buffers.length > 0;
        this.phase = "ready";
        this.keeper.live();
        if (typeof msg.lane === "string") this.openLane(msg.lane);
        if (this.views.size) this.requestReplay();
        return;
      case "replay":
        if (msg.to === this.id && this.phase === "replaying") this.applyReplay(msg, buffers);
        return;
      case "output":
        this.onOutput(msg.offset, payloadOf(msg, buffers));
        return;
      case "detached":
        if (this.phase === "live") this.requestReplay();
        return;
      case "snapshot": {
        const html = this.keeper.snapshot(this.active);
        if (html) this.channel.send({ type: "snapshot", id: msg.id }, html);
        return;
      }
    }
  }

  /** @param {string} id the lane the kernel registered for us */
  openLane(id) {
    const url = /^[0-9a-f]{32}$/.test(id) ? laneUrl(id) : null;
    if (!url) return;
    this.lane?.end();
    /** @type {Lane} */
    let lane;
    const handlers = {
      /** @type {(content: Record<string, unknown>, buffers: Uint8Array[]) => void} */
      message: (content, buffers) => this.onMessage(content, buffers),
      open: () => {
        if (this.disposed || this.lane !== lane) return lane.end();
        this.channel.lane = lane;
        this.laneSettled();
      },
      /** @type {(wasOpen: boolean) => void} */
      closed: (wasOpen) => {
        if (this.lane !== lane) return;
        this.lane = null;
        this.channel.lane = null;
        if (this.disposed) return;
        if (wasOpen && (this.phase === "live" || this.phase === "replaying")) {
          this.requestReplay(); // on the comm now: whatever was in flight on the lane comes back
        }
        this.laneSettled();
      },
    };
    try {
      lane = new Lane(url, handlers);
    } catch (e) {
      console.warn("k8sterm: no lane (its WebSocket could not be created); staying on the comm", e);
      return;
    }
    this.lane = lane;
  }

  laneSettled() {
    this.notify();
    if (this.replayWanted) {
      this.replayWanted = false;
      this.requestReplay();
    }
  }

  requestReplay() {
    if (this.lane && !this.lane.open) {
      this.replayWanted = true; // the lane is opening: ask once it is open (or gone)
      this.phase = "ready";
      return;
    }
    this.phase = "replaying";
    this.early = [];
    const have = this.synced ? { have: this.received } : {};
    this.channel.send({ type: "replay", id: this.id, b64: this.binaryOut === false, ...have });
    this.notify();
  }

  /**
   * @param {import("./protocol.js").ReplayMsg} msg
   * @param {(DataView | Uint8Array)[]} buffers
   */
  applyReplay(msg, buffers) {
    const tail = payloadOf(msg, buffers, 1);
    if (msg.resume) {
      this.resume(msg, tail);
      return;
    }
    const ckData = payloadOf(msg, buffers, 0);
    const ck = msg.checkpoint;
    const checkpoint = ck ? { ...ck, data: new TextDecoder().decode(ckData) } : null;
    this.log.reset(checkpoint, msg.offset, tail, msg.lossy);
    this.received = msg.end;
    this.acks.reset(msg.end);
    this.checkpointed = ck ? { offset: ck.offset, cols: ck.cols, rows: ck.rows } : { offset: -1, cols: 0, rows: 0 };
    for (const view of this.views) view.restore(this.log);
    this.synced = true;
    this.goLive();
  }

  /**
   * A replay that continues what the views show: append it, keep their screens.
   * @param {import("./protocol.js").ReplayMsg} msg
   * @param {Uint8Array} tail the bytes from `msg.offset` to `msg.end`
   */
  resume(msg, tail) {
    if (!this.synced || msg.offset !== this.received || msg.end !== msg.offset + tail.length) {
      this.synced = false; // not the continuation of our screen: redraw from a full replay
      this.requestReplay();
      return;
    }
    this.acks.reset(msg.end); // the kernel counts the replay as delivered
    this.phase = "live";
    this.onOutput(msg.offset, tail);
    this.goLive();
  }

  goLive() {
    this.phase = "live";
    const early = this.early;
    this.early = [];
    for (const { offset, bytes } of early) this.onOutput(offset, bytes);
    this.notify();
  }

  /**
   * @param {number} offset
   * @param {Uint8Array} bytes
   */
  onOutput(offset, bytes) {
    if (this.phase !== "live") {
      if (this.phase === "replaying") this.early.push({ offset, bytes });
      return;
    }
    if (offset > this.received) {
      this.requestReplay(); // a gap: we missed output (the kernel detached, or a message was lost)
      return;
    }
    const skip = this.received - offset;
    if (skip >= bytes.length) return; // already have it
    const fresh = skip > 0 ? bytes.subarray(skip) : bytes;
    this.received += fresh.length;
    this.log.append(fresh);
    const end = this.received;
    for (const view of this.views) {
      if (view === this.active) {
        view.write(fresh, this.acks.callbackFor(end));
        this.acks.markIdle(view.term, end);
      } else {
        view.write(fresh);
      }
    }
    if (!this.active) this.acks.parsed(end); // nobody parses: never hold the kernel back
    this.scheduleCheckpoint();
  }

  // ------------------------------------------------------------------ views

  /** @param {ViewLike} view */
  addView(view) {
    this.views.add(view);
    if (this.phase === "live") view.restore(this.log);
    else if (this.phase === "ready") this.requestReplay();
    else this.keeper.showSaved(view); // no kernel answer yet: the screen saved with the notebook, if any
    if (!this.active) this.setActive(view);
    this.sendViewCount();
  }

  /** @param {ViewLike} view */
  removeView(view) {
    this.views.delete(view);
    if (this.active === view) {
      this.active = null;
      this.acks.parsed(this.received); // its queue is gone with it
      const next = this.views.values().next();
      if (!next.done) this.setActive(next.value);
    }
    if (!this.disposed) this.sendViewCount();
  }

  /** @param {ViewLike} view */
  setActive(view) {
    if (this.active === view) return;
    if (this.active) this.acks.parsed(this.received);
    this.active = view;
    this.acks.reset(Math.max(this.acks.acked, this.received));
    const size = view.size();
    if (size) this.resize(size.cols, size.rows);
  }

  sendViewCount() {
    this.channel.send({ type: "views", count: this.views.size });
  }

  /**
   * The pty size (from the active view's fit).
   * @param {number} cols
   * @param {number} rows
   */
  resize(cols, rows) {
    cols = Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.floor(cols)));
    rows = Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.floor(rows)));
    if (this.sentSize && this.sentSize.cols === cols && this.sentSize.rows === rows) return;
    this.sentSize = { cols, rows };
    this.channel.send({ type: "resize", cols, rows });
  }

  // ------------------------------------------------------------------ input

  /** @param {string} data from xterm's onData */
  input(data) {
    this.channel.input(utf8(data));
  }

  /** @param {string} data from xterm's onBinary */
  inputBinary(data) {
    this.channel.input(binaryString(data));
  }

  reconnect() {
    this.channel.send({ type: "reconnect" });
  }

  /** The error line's "Debug with busybox" offer. */
  debug() {
    this.channel.send({ type: "debug" });
  }

  // ------------------------------------------------------------------ checkpoints

  scheduleCheckpoint() {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.checkpoint(), CHECKPOINT_SETTLE_MS);
    if (this.maxWaitTimer === undefined) {
      this.maxWaitTimer = setTimeout(() => this.checkpoint(), CHECKPOINT_MAX_WAIT_MS);
    }
  }

  /**
   * Serialize the active view once it has parsed everything received so far, keep it for views created
   * later, and send it to the kernel for page reloads. Skipped when nothing changed.
   */
  checkpoint() {
    clearTimeout(this.settleTimer);
    clearTimeout(this.maxWaitTimer);
    this.settleTimer = this.maxWaitTimer = undefined;
    const view = this.active;
    if (!view || this.phase !== "live" || this.disposed) return;
    const offset = this.received;
    view.term.write("", () => {
      if (this.disposed || view !== this.active || this.phase !== "live") return;
      const shot = view.serialize();
      if (!shot) return;
      const last = this.checkpointed;
      if (last.offset === offset && last.cols === shot.cols && last.rows === shot.rows) return;
      if (!this.log.setCheckpoint({ offset, cols: shot.cols, rows: shot.rows, data: shot.data })) return;
      this.checkpointed = { offset, cols: shot.cols, rows: shot.rows };
      this.keeper.checkpointed(view);
      const bytes = utf8(shot.data);
      if (bytes.length <= CHECKPOINT_MAX_BYTES) {
        this.channel.send({ type: "checkpoint", offset, cols: shot.cols, rows: shot.rows }, bytes);
      }
    });
  }

  // ------------------------------------------------------------------ misc

  /** Whether the kernel has not answered the handshake for a while (busy kernel). */
  get waitingForKernel() {
    return this.phase !== "live" && performance.now() - this.startedAt > 1500;
  }

  notify() {
    for (const listener of this.listeners) listener();
  }

  dispose() {
    this.disposed = true;
    this.lane?.end();
    this.keeper.dispose();
    clearTimeout(this.settleTimer);
    clearTimeout(this.maxWaitTimer);
    this.model.off("msg:custom", this.onMessage);
    this.listeners.clear();
  }
}
