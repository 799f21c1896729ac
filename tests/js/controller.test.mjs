// js/controller.js: the handshake, replay and live output of one terminal model in the page, driven by
// a fake model (the kernel's side of the comm) and a fake view (what xterm was given).
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { Controller } from "../../js/controller.js";

const bytes = (text) => new TextEncoder().encode(text);
const text = (data) => new TextDecoder().decode(data);

/** The kernel end: what the controller sent, and a way to answer. */
function fakeModel() {
  /** @type {((msg: any, buffers: any[]) => void)[]} */
  const handlers = [];
  return {
    sent: /** @type {{content: any, buffers: any}[]} */ ([]),
    on(event, fn) {
      if (event === "msg:custom") handlers.push(fn);
    },
    off() {},
    get: () => null,
    set() {},
    save_changes() {},
    send(content, _callbacks, buffers) {
      this.sent.push({ content, buffers });
    },
    /** A kernel message. */
    emit(msg, buffers = []) {
      for (const fn of handlers) fn(msg, buffers);
    },
    of(type) {
      return this.sent.filter((m) => m.content.type === type).map((m) => m.content);
    },
  };
}

/** A view that records what its terminal was given: `screen` is what xterm would have parsed. */
function fakeView() {
  const view = {
    screen: "",
    restores: 0,
    opened: true,
    term: {
      /** @param {Uint8Array | string} data @param {() => void} [callback] */
      write(data, callback) {
        view.screen += typeof data === "string" ? data : text(data);
        callback?.();
      },
    },
    /** @param {Uint8Array} data @param {() => void} [callback] */
    write(data, callback) {
      view.term.write(data, callback);
    },
    /** @param {import("../../js/screenlog.js").ScreenLog} log */
    restore(log) {
      view.restores += 1;
      view.screen = (log.checkpoint?.data ?? "") + text(log.tail());
    },
    serialize: () => null,
    size: () => null,
  };
  return view;
}

/** @type {Controller[]} */
const made = [];
afterEach(() => {
  for (const ctl of made.splice(0)) ctl.dispose();
});

/** A controller past the handshake and its first replay (`start` on screen), with one view. */
function live(start = "") {
  const model = fakeModel();
  const ctl = new Controller(/** @type {any} */ (model));
  made.push(ctl);
  const id = model.of("ready")[0].id;
  model.emit({ type: "hello", to: id, binary_in: true }, [new Uint8Array([1])]);
  const view = fakeView();
  ctl.addView(/** @type {any} */ (view));
  assert.deepEqual(model.of("replay"), [{ type: "replay", id, b64: false }]); // nothing on screen yet
  const end = start.length;
  model.emit(
    { type: "replay", to: id, offset: 0, end, checkpoint: null, lossy: false },
    [new Uint8Array(0), bytes(start)],
  );
  assert.equal(ctl.phase, "live");
  return { model, ctl, view, id };
}

test("a detached page asks to resume from what it shows, and keeps its screen", () => {
  const { model, ctl, view, id } = live("BEGIN\r\n");
  model.emit({ type: "output", offset: 7 }, [bytes("line 1\r\n")]);
  model.emit({ type: "detached", offset: 15 });
  assert.deepEqual(model.of("replay").at(-1), { type: "replay", id, b64: false, have: 15 });
  model.emit({ type: "output", offset: 15 }, [bytes("line 2\r\n")]); // in flight: waits for the replay
  model.emit(
    { type: "replay", to: id, offset: 15, end: 31, checkpoint: null, lossy: false, resume: true },
    [new Uint8Array(0), bytes("line 2\r\nline 3\r\n")],
  );
  assert.equal(view.restores, 1); // only the first replay redrew it
  assert.equal(view.screen, "BEGIN\r\nline 1\r\nline 2\r\nline 3\r\n");
  assert.deepEqual([ctl.phase, ctl.received, ctl.log.end], ["live", 31, 31]);
  model.emit({ type: "output", offset: 31 }, [bytes("END\r\n")]);
  assert.equal(view.screen, "BEGIN\r\nline 1\r\nline 2\r\nline 3\r\nEND\r\n");
});

test("a gap in the output asks to resume from the last byte before it", () => {
  const { model, view, id } = live("ab");
  model.emit({ type: "output", offset: 5 }, [bytes("fg")]); // 2..5 never came
  assert.deepEqual(model.of("replay").at(-1), { type: "replay", id, b64: false, have: 2 });
  model.emit(
    { type: "replay", to: id, offset: 2, end: 7, checkpoint: null, lossy: false, resume: true },
    [new Uint8Array(0), bytes("cdefg")],
  );
  assert.equal(view.screen, "abcdefg");
  assert.equal(view.restores, 1);
});

test("a kernel that no longer has those bytes sends the checkpoint, and the page redraws", () => {
  const { model, ctl, view, id } = live("old screen");
  model.emit({ type: "detached", offset: 10 });
  model.emit(
    { type: "replay", to: id, offset: 900, end: 903, checkpoint: { offset: 800, cols: 80, rows: 24 }, lossy: true },
    [bytes("CHECKPOINT"), bytes("new")],
  );
  assert.equal(view.restores, 2);
  assert.equal(view.screen, "CHECKPOINTnew");
  assert.deepEqual([ctl.received, ctl.log.lossy], [903, true]);
});

test("a resume that does not continue the screen is refused for a full replay", () => {
  const { model, ctl, view, id } = live("abc");
  model.emit({ type: "detached", offset: 3 });
  model.emit(
    { type: "replay", to: id, offset: 2, end: 4, checkpoint: null, lossy: false, resume: true },
    [new Uint8Array(0), bytes("Xd")],
  );
  assert.equal(view.screen, "abc"); // nothing appended
  assert.equal(ctl.phase, "replaying");
  assert.deepEqual(model.of("replay").at(-1), { type: "replay", id, b64: false }); // no `have`: all of it
});
