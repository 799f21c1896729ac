// js/cast.js: an asciicast v2 file read into frames for the player (the kernel writes and checks it:
// recording/asciicast.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_SIZE, parseCast, resizeOf } from "../../js/cast.js";

const cast = (...lines) => new DataView(new TextEncoder().encode(lines.join("\n")).buffer);

test("the header gives the size, each event a frame", () => {
  const { cols, rows, frames } = parseCast(
    cast('{"version": 2, "width": 100, "height": 30}', '[0.5, "o", "hi"]', '[1, "r", "90x20"]', ""),
    0,
  );
  assert.deepEqual([cols, rows], [100, 30]);
  assert.deepEqual(frames, [
    { at: 0.5, code: "o", data: "hi" },
    { at: 1, code: "r", data: "90x20" },
  ]);
});

test("long idle gaps are shortened to the limit, and time never goes back", () => {
  const { frames } = parseCast(
    cast("{}", '[1, "o", "a"]', '[31, "o", "b"]', '[30, "o", "c"]', '[32, "o", "d"]'),
    2,
  );
  assert.deepEqual(
    frames.map((f) => f.at),
    [1, 3, 3, 4],
  );
});

test("what cannot be read is skipped, and a bad header only costs the size", () => {
  const { cols, rows, frames } = parseCast(
    cast('{"width": 0, "height": 999999}', "not json", '{"an": "object"}', '["1", "o", "x"]', '[2, "o", 5]', '[3, "o", "ok"]'),
    0,
  );
  assert.deepEqual([cols, rows], [80, 24]);
  assert.deepEqual(frames, [{ at: 3, code: "o", data: "ok" }]);
  assert.deepEqual(parseCast(null, 0), { cols: 80, rows: 24, frames: [] });
  assert.deepEqual(parseCast(cast("{broken"), 0).frames, []);
});

test("a resize event is COLSxROWS within bounds, at least 2x2", () => {
  assert.deepEqual(resizeOf("120x40"), { cols: 120, rows: 40 });
  assert.deepEqual(resizeOf("1x1"), { cols: 2, rows: 2 });
  assert.deepEqual(resizeOf(`${MAX_SIZE}x${MAX_SIZE}`), { cols: MAX_SIZE, rows: MAX_SIZE });
  for (const bad of [`${MAX_SIZE + 1}x5`, "80x", "x24", "80 x 24", "-1x5", "123456x2", ""]) {
    assert.equal(resizeOf(bad), null, bad);
  }
});
