// The comm protocol, front-end side. The reference is the docstring of k8sterm_widget/widget/protocol.py;
// this file mirrors its names and limits, and tests/js/test_js_and_python_agree.py checks that they agree.

/** Largest input message (pastes are cut into chunks of this size). */
export const INPUT_CHUNK = 64 * 1024;
/** Ack the parsed offset at least every this many bytes of output. */
export const ACK_EVERY = 128 * 1024;
/** When output goes idle, ack only if this much is still unacked (echoes need no ack). */
export const ACK_IDLE_MIN = 32 * 1024;
/** Checkpoint (serialize) this long after output settles… */
export const CHECKPOINT_SETTLE_MS = 1000;
/** …and at least this often while output keeps flowing, so the kernel's replay tail stays short. */
export const CHECKPOINT_MAX_WAIT_MS = 10000;
/** Lines of scrollback a checkpoint keeps (a reload restores the screen and this much history). */
export const CHECKPOINT_SCROLLBACK = 5000;
/** Checkpoints larger than this stay in the page (the kernel refuses more than 8 MiB). */
export const CHECKPOINT_MAX_BYTES = 8 * 1024 * 1024;
/** Bytes kept after the latest checkpoint for views created later in this page. */
export const LOG_LIMIT = 8 * 1024 * 1024;
/** Pty size limits accepted by the kernel. */
export const MIN_SIZE = 2;
export const MAX_SIZE = 1000;

/** The messages the front end sends (k8sterm_widget/widget/protocol.py's CLIENT_TYPES). */
export const CLIENT_TYPES = ["ready", "replay", "input", "resize", "ack", "checkpoint", "views", "reconnect", "snapshot", "debug"];
/** The messages the kernel sends (KERNEL_TYPES there). */
export const KERNEL_TYPES = ["hello", "replay", "output", "detached", "snapshot"];

/**
 * @typedef {{ type: "hello", to: string, binary_in: boolean, lane?: string }} HelloMsg
 * @typedef {{ offset: number, cols: number, rows: number }} CheckpointInfo
 * @typedef {{ type: "replay", to: string, offset: number, end: number, checkpoint: CheckpointInfo | null,
 *             lossy: boolean, resume?: boolean, b64?: string[] }} ReplayMsg
 * @typedef {{ type: "output", offset: number, b64?: string }} OutputMsg
 * @typedef {{ type: "detached", offset: number }} DetachedMsg
 * @typedef {{ type: "snapshot", id: string }} SnapshotMsg
 * @typedef {HelloMsg | ReplayMsg | OutputMsg | DetachedMsg | SnapshotMsg} KernelMsg
 */

/**
 * The screen saved in the notebook (k8sterm_widget/recording/terminal.py).
 * @typedef {{ data: string, cols: number, rows: number, source?: "browser" | "kernel" }} Transcript
 */

/**
 * The synced traits of k8sterm_widget.Terminal (names and state only, never credentials).
 * @typedef {{
 *   pod: string, namespace: string, container: string, context: string,
 *   status: "connecting" | "connected" | "exited" | "disconnected" | "error" | "closed",
 *   status_detail: string, exit_code: number | null, notes: string[],
 *   renderer: "auto" | "webgl" | "dom", font_size: number, rows: number, scrollback: number,
 *   _uid: string, badge: string, offers: string[], transcript: Transcript | null,
 * }} Traits
 */

/**
 * @param {unknown} msg
 * @returns {msg is KernelMsg}
 */
export function isKernelMsg(msg) {
  if (typeof msg !== "object" || msg === null) return false;
  const type = /** @type {{type?: unknown}} */ (msg).type;
  return typeof type === "string" && KERNEL_TYPES.includes(type);
}
