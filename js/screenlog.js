// What this page needs to draw a new view of the terminal: the latest checkpoint (xterm serialize output
// at a known offset) plus the raw bytes after it, bounded. The same structure as the kernel's replay
// buffer (k8sterm_widget/widget/replay.py), so a second view or "Create New View for Cell Output" needs
// no round trip to the kernel.

import { LOG_LIMIT } from "./protocol.js";

/** @typedef {{ offset: number, cols: number, rows: number, data: string }} Checkpoint */

export class ScreenLog {
  /** @param {number} [limit] */
  constructor(limit = LOG_LIMIT) {
    this.limit = limit;
    /** @type {Checkpoint | null} */
    this.checkpoint = null;
    /** @type {Uint8Array[]} */
    this.chunks = [];
    this.size = 0;
    /** Offset of the first byte in `chunks`. */
    this.start = 0;
    /** Offset after the last byte. */
    this.end = 0;
    /** The kernel's replay was lossy (until the next checkpoint). */
    this.replayLossy = false;
  }

  /** Bytes between the checkpoint (or the stream start) and the tail were dropped. */
  get lossy() {
    return this.replayLossy || this.start > (this.checkpoint ? this.checkpoint.offset : 0);
  }

  /**
   * @param {Checkpoint | null} checkpoint
   * @param {number} start
   * @param {Uint8Array} tail
   * @param {boolean} lossy
   */
  reset(checkpoint, start, tail, lossy) {
    this.checkpoint = checkpoint;
    this.chunks = tail.length ? [tail] : [];
    this.size = tail.length;
    this.start = start;
    this.end = start + tail.length;
    this.replayLossy = lossy;
  }

  /** @param {Uint8Array} bytes */
  append(bytes) {
    if (!bytes.length) return;
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.end += bytes.length;
    if (this.size > this.limit) this.dropBefore(this.start + (this.size - this.limit));
  }

  /**
   * @param {Checkpoint} checkpoint
   * @returns {boolean} whether it was kept
   */
  setCheckpoint(checkpoint) {
    const base = this.checkpoint ? this.checkpoint.offset : 0;
    if (checkpoint.offset > this.end || checkpoint.offset < base) return false;
    this.checkpoint = checkpoint;
    this.replayLossy = false;
    this.dropBefore(checkpoint.offset);
    return true;
  }

  /** @returns {Uint8Array} the bytes after the checkpoint, joined */
  tail() {
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = out.length ? [out] : [];
    return out;
  }

  /** @param {number} offset */
  dropBefore(offset) {
    while (this.chunks.length && this.start < offset) {
      const head = this.chunks[0];
      const cut = Math.min(head.length, offset - this.start);
      if (cut === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(cut);
      this.size -= cut;
      this.start += cut;
    }
    if (!this.chunks.length) this.start = Math.max(this.start, Math.min(offset, this.end));
  }
}
