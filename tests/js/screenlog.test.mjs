// js/screenlog.js: the page's copy of checkpoint + bytes since (the kernel's is widget/replay.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ScreenLog } from "../../js/screenlog.js";

const bytes = (text) => new TextEncoder().encode(text);
const text = (data) => new TextDecoder().decode(data);

test("bytes after the checkpoint are kept in order and joined", () => {
  const log = new ScreenLog();
  log.append(bytes("ab"));
  log.append(new Uint8Array(0));
  log.append(bytes("cd"));
  assert.equal(text(log.tail()), "abcd");
  assert.deepEqual([log.start, log.end, log.size], [0, 4, 4]);
  assert.equal(log.lossy, false);
});

test("a checkpoint drops what it covers; one outside the log is refused", () => {
  const log = new ScreenLog();
  log.append(bytes("hello world"));
  assert.equal(log.setCheckpoint({ offset: 6, cols: 80, rows: 24, data: "screen" }), true);
  assert.equal(text(log.tail()), "world");
  assert.equal(log.start, 6);
  assert.equal(log.setCheckpoint({ offset: 99, cols: 80, rows: 24, data: "" }), false); // beyond the end
  assert.equal(log.setCheckpoint({ offset: 3, cols: 80, rows: 24, data: "" }), false); // before the current one
  assert.equal(log.checkpoint?.offset, 6);
});

test("over the limit the oldest bytes go, and the log says it is lossy until the next checkpoint", () => {
  const log = new ScreenLog(8);
  log.append(bytes("0123456"));
  log.append(bytes("789ab"));
  assert.equal(text(log.tail()), "456789ab");
  assert.equal(log.start, 4);
  assert.equal(log.lossy, true);
  log.setCheckpoint({ offset: 10, cols: 80, rows: 24, data: "" });
  assert.equal(log.lossy, false);
  assert.equal(text(log.tail()), "ab");
});

test("a replay resets it, carrying the kernel's word on lossiness", () => {
  const log = new ScreenLog();
  log.append(bytes("old"));
  const checkpoint = { offset: 100, cols: 90, rows: 30, data: "ck" };
  log.reset(checkpoint, 120, bytes("tail"), true);
  assert.deepEqual([log.start, log.end], [120, 124]);
  assert.equal(log.checkpoint, checkpoint);
  assert.equal(log.lossy, true);
  log.reset(null, 0, new Uint8Array(0), false);
  assert.equal(log.tail().length, 0);
  assert.equal(log.lossy, false);
});
