// js/transport.js: bytes on the comm, as buffers or base64, input in chunks, messages numbered.
import assert from "node:assert/strict";
import { test } from "node:test";

import { INPUT_CHUNK } from "../../js/protocol.js";
import {
  Channel,
  binaryString,
  bytesOfBuffer,
  chunks,
  fromBase64,
  payloadOf,
  sendToKernel,
  toBase64,
  utf8,
} from "../../js/transport.js";

test("base64 round trips every byte, also past String.fromCharCode's argument limit", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(toBase64(all), Buffer.from(all).toString("base64"));
  assert.deepEqual(fromBase64(toBase64(all)), all);
  const big = new Uint8Array(0x8000 * 2 + 5).fill(0xab);
  assert.deepEqual(fromBase64(toBase64(big)), big);
});

test("a message's payload: its buffer, else its base64 field", () => {
  const view = new DataView(new Uint8Array([9, 1, 2, 3]).buffer, 1, 2);
  assert.deepEqual([...bytesOfBuffer(view)], [1, 2]);
  assert.deepEqual([...payloadOf({}, [view])], [1, 2]);
  assert.deepEqual([...payloadOf({ b64: "AQI=" }, [])], [1, 2]);
  assert.deepEqual([...payloadOf({ b64: ["", "AwQ="] }, undefined, 1)], [3, 4]); // a replay's tail
  assert.deepEqual([...payloadOf({ b64: "AQI=" }, [], 1)], []); // a single field has no second part
  assert.deepEqual([...payloadOf({}, [])], []);
});

test("keys as UTF-8, xterm's binary strings one byte per character", () => {
  assert.deepEqual([...utf8("é\r")], [0xc3, 0xa9, 13]);
  assert.deepEqual([...binaryString("\x1b[M \u00ff")], [0x1b, 0x5b, 0x4d, 0x20, 0xff]);
});

test("input is cut into exact-size fresh chunks (JupyterLab sends a view's whole buffer)", () => {
  const data = new Uint8Array(INPUT_CHUNK * 2 + 1).fill(1);
  const parts = chunks(data);
  assert.deepEqual(parts.map((p) => p.length), [INPUT_CHUNK, INPUT_CHUNK, 1]);
  for (const p of parts) assert.equal(p.buffer.byteLength, p.length);
  assert.deepEqual(chunks(new Uint8Array(0)), []);
});

/** A model that keeps what it is sent. */
function model() {
  const sent = [];
  return { sent, send: (content, _callbacks, buffers) => sent.push({ content, buffers }) };
}

test("ordered messages carry the front end's id and a per-type sequence number", () => {
  const m = model();
  const channel = new Channel(m, "fe1");
  channel.send({ type: "resize", cols: 80, rows: 24 });
  channel.send({ type: "ack", offset: 5 });
  channel.input(new Uint8Array(INPUT_CHUNK + 1));
  channel.send({ type: "resize", cols: 90, rows: 24 });
  assert.deepEqual(
    m.sent.map(({ content }) => [content.type, content.id, content.seq]),
    [["resize", "fe1", 0], ["ack", undefined, undefined], ["input", "fe1", 0], ["input", "fe1", 1], ["resize", "fe1", 1]],
  );
  assert.deepEqual(m.sent[2].buffers.map((b) => b.length), [INPUT_CHUNK]);
});

test("bytes go as a buffer, as base64 where the host drops buffers, and on an open lane first", () => {
  const m = model();
  const channel = new Channel(m, "fe1");
  const bytes = new Uint8Array([1, 2, 3]);
  channel.send({ type: "checkpoint", offset: 0 }, bytes.subarray(1)); // a view: sent as an exact copy
  assert.deepEqual([...m.sent[0].buffers[0]], [2, 3]);
  assert.equal(m.sent[0].buffers[0].buffer.byteLength, 2);
  channel.binaryIn = false;
  channel.send({ type: "checkpoint", offset: 0 }, bytes);
  assert.deepEqual(m.sent[1], { content: { type: "checkpoint", offset: 0, b64: "AQID" }, buffers: undefined });
  const onLane = [];
  channel.lane = /** @type {any} */ ({ send: (content, data) => (onLane.push({ content, data }), true) });
  channel.send({ type: "ack", offset: 7 });
  assert.equal(m.sent.length, 2);
  assert.deepEqual(onLane, [{ content: { type: "ack", offset: 7 }, data: undefined }]);
  channel.lane = /** @type {any} */ ({ send: () => false }); // closed under us: the comm takes it
  channel.send({ type: "ack", offset: 8 });
  assert.deepEqual(m.sent[2].content, { type: "ack", offset: 8 });
});

test("a model whose comm is gone drops what is sent instead of throwing (a restarted kernel)", () => {
  const closed = {
    send() {
      throw new Error("Cannot send"); // what ipywidgets throws once the comm is closed
    },
  };
  assert.equal(sendToKernel(closed, { type: "ack", offset: 1 }), false);
  const channel = new Channel(closed, "fe");
  assert.doesNotThrow(() => channel.send({ type: "views", count: 0 }));
  assert.doesNotThrow(() => channel.input(new Uint8Array([1, 2, 3])));
  const sent = [];
  assert.equal(sendToKernel({ send: (...args) => sent.push(args) }, { type: "ack" }, [new Uint8Array(1)]), true);
  assert.equal(sent.length, 1);
});
