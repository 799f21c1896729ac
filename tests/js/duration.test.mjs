// js/duration.js: a pod's age as kubectl prints it, and the player's clock. (tests/js/test_js_and_python_agree.py
// checks humanDuration against the kernel's Python twin.)
import assert from "node:assert/strict";
import { test } from "node:test";

import { clock, humanDuration } from "../../js/duration.js";

test("ages read like kubectl's AGE column", () => {
  const table = [
    [-5, "<invalid>"], [-0.5, "0s"], [0, "0s"], [5, "5s"], [119, "119s"], [120, "2m"], [150, "2m30s"],
    [600, "10m"], [3 * 3600 - 1, "179m"], [3 * 3600 + 60, "3h1m"], [8 * 3600, "8h"], [30 * 3600, "30h"],
    [3 * 86400 + 7200, "3d2h"], [8 * 86400, "8d"], [400 * 86400, "400d"], [3 * 365 * 86400 + 86400, "3y1d"],
    [9 * 365 * 86400, "9y"],
  ];
  for (const [seconds, text] of table) assert.equal(humanDuration(seconds), text, String(seconds));
});

test("the player's clock is minutes and seconds, never negative", () => {
  assert.equal(clock(0), "0:00");
  assert.equal(clock(65.9), "1:05");
  assert.equal(clock(3600), "60:00");
  assert.equal(clock(-3), "0:00");
});
