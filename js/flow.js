// Ack accounting for flow control (kernel side: k8sterm_widget/widget/flow.py).
//
// The kernel pauses reading the pod's output while more than ~1 MiB is unacked, so the browser acks
// what xterm has *parsed*, not what it received: xterm's `write` only queues. Following xterm's
// flow-control guide, a write callback is attached only every ACK_EVERY bytes (callbacks cost), plus one
// empty "marker" write when output goes idle, whose callback fires once everything before it is parsed.

import { ACK_EVERY, ACK_IDLE_MIN } from "./protocol.js";

export class AckTracker {
  /**
   * @param {(offset: number) => void} send sends `{type: "ack", offset}`
   * @param {{ every?: number, idleMin?: number }} [options]
   */
  constructor(send, { every = ACK_EVERY, idleMin = ACK_IDLE_MIN } = {}) {
    this.sendAck = send;
    this.every = every;
    this.idleMin = idleMin;
    /** Highest offset acked so far. */
    this.acked = 0;
    /** Offset at which the last write callback was attached. */
    this.marked = 0;
    this.markerPending = false;
  }

  /**
   * The callback to attach to a write that ends at `end`, or undefined when this write needs none.
   * @param {number} end
   * @returns {(() => void) | undefined}
   */
  callbackFor(end) {
    if (end - this.marked < this.every) return undefined;
    this.marked = end;
    return () => this.parsed(end);
  }

  /**
   * Queue an idle marker behind the data written so far (at most one at a time).
   * @param {{ write(data: string, callback?: () => void): void }} term
   * @param {number} end offset of the last byte written to `term`
   */
  markIdle(term, end) {
    if (this.markerPending) return;
    this.markerPending = true;
    term.write("", () => {
      this.markerPending = false;
      if (end - this.acked >= this.idleMin) this.parsed(end);
    });
  }

  /**
   * Everything up to `end` has been parsed (or will never be: no view).
   * @param {number} end
   */
  parsed(end) {
    if (end <= this.acked) return;
    this.acked = end;
    this.sendAck(end);
  }

  /**
   * Start counting afresh at `offset` (after a replay: the kernel counts it as delivered).
   * @param {number} offset
   */
  reset(offset) {
    this.acked = offset;
    this.marked = offset;
    this.markerPending = false;
  }
}
