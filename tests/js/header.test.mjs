// js/header.js: the status line as the user reads it (the synced traits come from widget/_widget.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { statusText } from "../../js/header.js";

test("each status in words, with its detail where there is one", () => {
  const s = (status, status_detail = "", exit_code = null) => statusText({ status, status_detail, exit_code });
  assert.equal(s("connecting"), "connecting…");
  assert.equal(s("connecting", "starting debug container debugger-x"), "connecting… — starting debug container debugger-x");
  assert.equal(s("connected"), "connected");
  assert.equal(s("exited", "", 3), "exited with code 3");
  assert.equal(s("exited"), "exited with code ?");
  assert.equal(s("disconnected", "the connection was reset"), "disconnected — the connection was reset");
  assert.equal(s("disconnected"), "disconnected");
  assert.equal(s("error", 'pod "x" not found'), 'error — pod "x" not found');
  assert.equal(s("error"), "error");
  assert.equal(s("closed"), "closed");
  assert.equal(s(/** @type {any} */ ("restored")), "restored");
});
