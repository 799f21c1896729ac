// js/face.js: a view's life as anywidget's render returns it (the face's CSS needs a page; not here).
import assert from "node:assert/strict";
import { test } from "node:test";

import { whileShown } from "../../js/face.js";

test("the view is disposed once, whether anywidget calls the cleanup, aborts, or both", () => {
  let disposed = 0;
  const view = { dispose: () => disposed++ };
  const cleanup = whileShown(view, "uid-1", undefined);
  cleanup();
  cleanup();
  assert.equal(disposed, 1);

  const controller = new AbortController();
  const other = whileShown(view, "uid-2", controller.signal);
  controller.abort();
  other();
  assert.equal(disposed, 2);
});
