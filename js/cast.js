// An asciicast v2 recording (k8sterm_widget/recording/asciicast.py writes it, the player shows it) read
// into frames: the size from the header, then each event's time, code and data, with idle gaps longer
// than the player's limit shortened as asciinema's player does. What cannot be read is skipped: the kernel
// validated the file, and the page never fails on one bad line.

/** @typedef {{ at: number, code: string, data: string }} Frame */

/** Columns or rows at most, in the header and in resize events (the kernel refuses more: recording/asciicast.py). */
export const MAX_SIZE = 10000;

/**
 * @param {DataView | null} view
 * @param {number} idleLimit
 * @returns {{ cols: number, rows: number, frames: Frame[] }}
 */
export function parseCast(view, idleLimit) {
  const isSize = (/** @type {unknown} */ n) => Number.isInteger(n) && Number(n) >= 1 && Number(n) <= MAX_SIZE;
  const text = view ? new TextDecoder().decode(view) : "";
  const lines = text.split("\n");
  let cols = 80;
  let rows = 24;
  try {
    const header = JSON.parse(lines[0] || "{}");
    if (isSize(header.width)) cols = header.width;
    if (isSize(header.height)) rows = header.height;
  } catch {
    // the kernel checked it; an unreadable header only costs the size
  }
  /** @type {Frame[]} */
  const frames = [];
  let last = 0;
  let shifted = 0;
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (!Array.isArray(event) || typeof event[0] !== "number" || typeof event[2] !== "string") continue;
    const t = Math.max(event[0], last);
    const gap = t - last;
    if (idleLimit > 0 && gap > idleLimit) shifted += gap - idleLimit;
    last = t;
    frames.push({ at: t - shifted, code: String(event[1]), data: event[2] });
  }
  return { cols, rows, frames };
}

/**
 * The terminal size a resize event (`"COLSxROWS"`) asks for, at least 2x2; null for anything else.
 * @param {string} data
 * @returns {{ cols: number, rows: number } | null}
 */
export function resizeOf(data) {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(data);
  if (!m || Number(m[1]) > MAX_SIZE || Number(m[2]) > MAX_SIZE) return null;
  return { cols: Math.max(2, Number(m[1])), rows: Math.max(2, Number(m[2])) };
}
