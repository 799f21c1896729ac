// js/protocol.js: which kernel messages the front end takes (the constants' agreement with
// k8sterm_widget/widget/protocol.py is checked from the Python side: tests/js/test_js_and_python_agree.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { KERNEL_TYPES, isKernelMsg } from "../../js/protocol.js";

test("only the kernel's message types pass", () => {
  for (const type of KERNEL_TYPES) assert.equal(isKernelMsg({ type }), true, type);
  for (const msg of [null, undefined, "hello", 5, {}, { type: "input" }, { type: "__proto__" }, { type: ["hello"] }]) {
    assert.equal(isKernelMsg(msg), false, JSON.stringify(msg));
  }
});
