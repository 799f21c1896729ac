// js/keep.js: the transcript a terminal leaves in the notebook, as short as needed to fit (the kernel
// validates and caps it again: recording/terminal.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { TRANSCRIPT_MAX, TRANSCRIPT_SCROLLBACK, transcriptOf } from "../../js/keep.js";

/** A view whose serialized screen is `sizes[scrollback]` characters long. */
const view = (sizes, opened = true) => ({
  opened,
  term: { cols: 100, rows: 30 },
  t: { serializer: { serialize: ({ scrollback }) => "x".repeat(sizes[scrollback]) } },
});

test("the most scrollback that fits", () => {
  const [most, fewer, none] = TRANSCRIPT_SCROLLBACK;
  const sizes = { [most]: TRANSCRIPT_MAX + 1, [fewer]: TRANSCRIPT_MAX, [none]: 10 };
  const kept = /** @type {any} */ (transcriptOf(/** @type {any} */ (view(sizes))));
  assert.deepEqual([kept.data.length, kept.cols, kept.rows, kept.source], [TRANSCRIPT_MAX, 100, 30, "browser"]);
});

test("nothing when even the bare screen is too big, or the view never opened", () => {
  const huge = Object.fromEntries(TRANSCRIPT_SCROLLBACK.map((n) => [n, TRANSCRIPT_MAX + 1]));
  assert.equal(transcriptOf(/** @type {any} */ (view(huge))), null);
  assert.equal(transcriptOf(/** @type {any} */ (view({ 1000: 1, 200: 1, 0: 1 }, false))), null);
});
