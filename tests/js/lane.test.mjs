// js/lane.js: the lane's frames (the same format as k8sterm_widget/lane/__init__.py; the Python suite
// sends frames across: tests/js/test_js_and_python_agree.py) and the lane's URL.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { decodeFrame, encodeFrame, laneUrl } from "../../js/lane.js";

const buffer = (u8) => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);

test("a frame is a u32 header length, the JSON header with the buffer sizes, the buffer", () => {
  const frame = encodeFrame({ type: "input", seq: 3 }, new Uint8Array([1, 2, 3]));
  const headLength = new DataView(frame.buffer).getUint32(0);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + headLength))), {
    type: "input",
    seq: 3,
    sizes: [3],
  });
  assert.deepEqual([...frame.subarray(4 + headLength)], [1, 2, 3]);
  const back = decodeFrame(buffer(frame));
  assert.deepEqual(back?.content, { type: "input", seq: 3 });
  assert.deepEqual(back?.buffers.map((b) => [...b]), [[1, 2, 3]]);
  assert.deepEqual(decodeFrame(buffer(encodeFrame({ type: "ack", offset: 9 }))), {
    content: { type: "ack", offset: 9 },
    buffers: [],
  });
});

test("a damaged frame is refused, never half read", () => {
  const good = encodeFrame({ type: "output" }, new Uint8Array([7, 7]));
  assert.equal(decodeFrame(new ArrayBuffer(3)), null); // no room for the length
  assert.equal(decodeFrame(buffer(good.subarray(0, good.length - 1))), null); // a buffer cut short
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(0, 1000);
  assert.equal(decodeFrame(huge.buffer), null); // a header longer than the frame
  const notJson = new Uint8Array([0, 0, 0, 2, 0x7b, 0x7b]);
  assert.equal(decodeFrame(notJson.buffer), null);
  const notObject = encodeFrame(/** @type {any} */ (5));
  assert.equal(decodeFrame(buffer(notObject)), null);
});

const saved = { document: globalThis.document, location: globalThis.location };
afterEach(() => Object.assign(globalThis, saved));

/** A page whose jupyter-config-data is `config` (or none), at `href`. */
function page(config, href) {
  globalThis.location = /** @type {any} */ (new URL(href));
  globalThis.document = /** @type {any} */ ({
    getElementById: (id) =>
      id === "jupyter-config-data" && config !== undefined ? { textContent: JSON.stringify(config) } : null,
  });
}

test("the lane's URL is the server's own WebSocket URL, with the token only for another host", () => {
  page({ baseUrl: "/user/ann/", token: "t0k" }, "https://hub.example/user/ann/lab");
  assert.equal(laneUrl("ab12"), "wss://hub.example/user/ann/k8sterm/lane/ab12");
  page({ baseUrl: "/", wsUrl: "ws://other:8888/", token: "t0k" }, "http://localhost:8888/lab");
  assert.equal(laneUrl("cd34"), "ws://other:8888/k8sterm/lane/cd34?token=t0k");
});

test("a page that is not a Jupyter Server's has no lane", () => {
  page(undefined, "https://colab.example/");
  assert.equal(laneUrl("ab12"), null);
  page({ nothing: true }, "https://example.org/");
  assert.equal(laneUrl("ab12"), null);
});
