/**
 * Front end of k8sterm_widget.replay(): plays an asciicast v2 recording in xterm.js, with play/pause,
 * speed, a seek bar and restart. The cast arrives as the `cast` trait (bytes: the header line and the
 * event lines, read and checked by the kernel), so a notebook saved with widget state plays it with no
 * kernel at all.
 *
 * Timing: event times are played as recorded, except that pauses longer than `idle_time_limit` seconds
 * are shortened to it (as `asciinema play -i`). Only output ("o") and resize ("r") events change the
 * screen; input ("i") and markers are not shown.
 *
 * Automation hook (tests): the root `.k8sterm-player` has `terminal` (the xterm Terminal), `player`
 * (this Player: play(), pause(), seek(seconds)) and `data-state` (playing, paused, ended).
 */
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import "./player.css";

import { whileShown } from "./face.js";
import { parseCast, resizeOf } from "./cast.js";
import { button, h } from "./dom.js";
import { clock } from "./duration.js";
import { Term } from "./terminal.js";
import { currentTheme, watchTheme } from "./theme.js";

/**
 * @typedef {{ cast: DataView | null, title: string, note: string, speed: number, autoplay: boolean,
 *   idle_time_limit: number, font_size: number, _uid: string }} PlayerTraits
 * @typedef {import("@anywidget/types").AnyModel<PlayerTraits>} Model
 * @typedef {import("./cast.js").Frame} Frame
 */

const SPEEDS = [0.5, 1, 2, 4, 8];

class Player {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.root = h("div", "k8sterm k8sterm-player");
    this.root.setAttribute("data-lm-suppress-shortcuts", "true");
    const header = h("div", "k8sterm-header");
    this.title = h("span", "k8sterm-title");
    const controls = h("span", "k8sterm-player-controls");
    this.playButton = button("Play", "play");
    this.playButton.addEventListener("click", () => (this.state === "playing" ? this.pause() : this.play()));
    this.speedSelect = /** @type {HTMLSelectElement} */ (h("select", "k8sterm-player-speed"));
    this.speedSelect.title = "Speed";
    for (const s of SPEEDS) {
      const o = /** @type {HTMLOptionElement} */ (h("option", "", `${s}×`));
      o.value = String(s);
      this.speedSelect.append(o);
    }
    this.speedSelect.addEventListener("change", () => this.setSpeed(Number(this.speedSelect.value)));
    this.progress = /** @type {HTMLInputElement} */ (h("input", "k8sterm-player-progress"));
    this.progress.type = "range";
    this.progress.min = "0";
    this.progress.step = "0.1";
    this.progress.addEventListener("input", () => this.seek(Number(this.progress.value)));
    this.time = h("span", "k8sterm-player-time");
    controls.append(this.playButton, this.speedSelect, this.progress, this.time);
    header.append(this.title, h("span", "k8sterm-spacer"), controls);
    this.note = h("div", "k8sterm-player-note");
    this.screen = h("div", "k8sterm-player-screen");
    this.root.append(header, this.note, this.screen);
    el.append(this.root);

    this.t = new Term({ fontSize: model.get("font_size") || 13, scrollback: 1000, theme: currentTheme(this.root) });
    this.term = this.t.term;
    this.term.options.disableStdin = true;
    this.disposed = false;
    // xterm measures its font when opened: wait until the output area is in the page (writes parse meanwhile).
    const open = () => {
      if (this.disposed) return;
      if (this.screen.isConnected) this.t.open(this.screen, "dom");
      else requestAnimationFrame(open);
    };
    open();
    Object.defineProperty(this.root, "terminal", { value: this.term, configurable: true });
    Object.defineProperty(this.root, "player", { value: this, configurable: true });
    this.unwatch = watchTheme(() => (this.term.options.theme = currentTheme(this.root)));

    /** @type {"playing" | "paused" | "ended"} */
    this.state = "paused";
    /** @type {Frame[]} */
    this.frames = [];
    this.next = 0; // index of the next frame to write
    this.position = 0; // seconds into the (idle-shortened) cast
    this.wallStart = 0;
    this.posStart = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.speed = model.get("speed") || 1;

    model.on("change:cast", () => this.load(true));
    model.on("change:title", () => this.renderInfo());
    model.on("change:note", () => this.renderInfo());
    model.on("change:speed", () => this.setSpeed(model.get("speed") || 1));
    this.load(model.get("autoplay"));
  }

  get duration() {
    return this.frames.length ? this.frames[this.frames.length - 1].at : 0;
  }

  renderInfo() {
    this.title.textContent = this.model.get("title") || "recording";
    const note = this.model.get("note");
    this.note.textContent = note;
    this.note.hidden = !note;
    this.progress.max = String(this.duration);
    this.progress.value = String(this.position);
    this.time.textContent = `${clock(this.position)} / ${clock(this.duration)}`;
    this.speedSelect.value = String(this.speed);
    this.playButton.textContent = this.state === "playing" ? "Pause" : this.state === "ended" ? "Replay" : "Play";
    this.playButton.dataset.action = this.state === "playing" ? "pause" : "play";
    this.root.dataset.state = this.state;
  }

  /** @param {boolean} autoplay */
  load(autoplay) {
    this.stopTimer();
    const { cols, rows, frames } = parseCast(this.model.get("cast"), this.model.get("idle_time_limit"));
    this.frames = frames;
    this.cols = cols;
    this.rows = rows;
    this.rewind();
    if (autoplay && frames.length) this.play();
    else this.setState("paused");
  }

  rewind() {
    this.term.reset();
    this.term.resize(this.cols ?? 80, this.rows ?? 24);
    this.next = 0;
    this.position = 0;
  }

  /** @param {"playing" | "paused" | "ended"} state */
  setState(state) {
    this.state = state;
    this.renderInfo();
  }

  play() {
    if (this.state === "ended" || this.next >= this.frames.length) this.rewind();
    this.wallStart = performance.now();
    this.posStart = this.position;
    this.setState("playing");
    this.step();
  }

  pause() {
    this.stopTimer();
    if (this.state === "playing") this.position = this.now();
    this.setState("paused");
  }

  /** @param {number} speed */
  setSpeed(speed) {
    if (!(speed > 0)) return;
    if (this.state === "playing") {
      this.position = this.now();
      this.posStart = this.position;
      this.wallStart = performance.now();
    }
    this.speed = speed;
    this.renderInfo();
    if (this.state === "playing") {
      this.stopTimer();
      this.step();
    }
  }

  /**
   * Jump to `seconds`: replay every frame up to there at once (xterm parses tens of MB/s).
   * @param {number} seconds
   */
  seek(seconds) {
    const playing = this.state === "playing";
    this.stopTimer();
    const target = Math.max(0, Math.min(seconds, this.duration));
    if (target < this.position) this.rewind();
    this.writeUntil(target);
    this.position = target;
    if (playing && this.next < this.frames.length) {
      this.wallStart = performance.now();
      this.posStart = target;
      this.step();
    } else {
      this.setState(this.next >= this.frames.length ? "ended" : "paused");
    }
  }

  now() {
    return this.posStart + ((performance.now() - this.wallStart) / 1000) * this.speed;
  }

  /** @param {number} until */
  writeUntil(until) {
    let out = "";
    while (this.next < this.frames.length && this.frames[this.next].at <= until) {
      const frame = this.frames[this.next++];
      if (frame.code === "o") {
        out += frame.data;
      } else if (frame.code === "r") {
        const size = resizeOf(frame.data);
        if (size) {
          if (out) this.term.write(out);
          out = "";
          this.term.resize(size.cols, size.rows);
        }
      }
    }
    if (out) this.term.write(out);
  }

  step() {
    if (this.state !== "playing") return;
    const now = this.now();
    this.writeUntil(now);
    this.position = Math.min(now, this.duration);
    this.renderInfo();
    if (this.next >= this.frames.length) {
      this.position = this.duration;
      this.setState("ended");
      return;
    }
    const wait = ((this.frames[this.next].at - now) / this.speed) * 1000;
    this.timer = setTimeout(() => this.step(), Math.max(0, Math.min(wait, 250)));
  }

  stopTimer() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose() {
    this.disposed = true;
    this.stopTimer();
    this.unwatch();
    this.t.dispose();
    this.root.remove();
  }
}

/** @type {import("@anywidget/types").Render<PlayerTraits>} */
function render({ model, el, signal }) {
  return whileShown(new Player(model, el), model.get("_uid"), signal);
}

export default { render };
