// js/flow.js: which writes get an ack callback, and what is acked (the kernel side: widget/flow.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { AckTracker } from "../../js/flow.js";
import { ACK_EVERY, ACK_IDLE_MIN } from "../../js/protocol.js";

function tracker(options) {
  const sent = [];
  return { sent, acks: new AckTracker((offset) => sent.push(offset), options) };
}

test("a write callback only every ACK_EVERY bytes, acking where that write ends", () => {
  const { sent, acks } = tracker();
  assert.equal(acks.callbackFor(ACK_EVERY - 1), undefined);
  const callback = acks.callbackFor(ACK_EVERY + 10);
  assert.equal(typeof callback, "function");
  assert.equal(acks.callbackFor(ACK_EVERY + 20), undefined); // counted from the last mark
  callback();
  assert.deepEqual(sent, [ACK_EVERY + 10]);
});

test("acks only move forward", () => {
  const { sent, acks } = tracker({ every: 10 });
  acks.parsed(50);
  acks.parsed(40);
  acks.parsed(50);
  acks.parsed(60);
  assert.deepEqual(sent, [50, 60]);
});

test("an idle marker acks what is parsed, once at a time, and not for a few bytes", () => {
  const { sent, acks } = tracker();
  const writes = [];
  const term = { write: (data, cb) => writes.push({ data, cb }) };
  acks.markIdle(term, ACK_IDLE_MIN + 5);
  acks.markIdle(term, ACK_IDLE_MIN + 9); // one marker at a time
  assert.equal(writes.length, 1);
  assert.equal(writes[0].data, "");
  writes[0].cb();
  assert.deepEqual(sent, [ACK_IDLE_MIN + 5]);
  acks.markIdle(term, ACK_IDLE_MIN + 6); // an echo after it: too little to be worth an ack
  writes[1].cb();
  assert.deepEqual(sent, [ACK_IDLE_MIN + 5]);
});

test("after a replay the count starts afresh at its offset", () => {
  const { sent, acks } = tracker({ every: 100 });
  acks.reset(1000);
  assert.equal(acks.callbackFor(1050), undefined);
  acks.parsed(900);
  assert.deepEqual(sent, []);
  acks.callbackFor(1100)();
  assert.deepEqual(sent, [1100]);
});
