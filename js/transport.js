// Bytes on the comm: binary buffers when the host carries them, base64 strings when it does not
// (Colab, Positron), and input cut into chunks so a big paste never becomes one giant frame.

import { INPUT_CHUNK } from "./protocol.js";

/**
 * The bytes of a buffer that arrived with a kernel message (a DataView over its own ArrayBuffer).
 * @param {DataView | ArrayBuffer | Uint8Array} buffer
 * @returns {Uint8Array}
 */
export function bytesOfBuffer(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * @param {string} text base64
 * @returns {Uint8Array}
 */
export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let raw = "";
  const step = 0x8000; // String.fromCharCode has an argument limit
  for (let i = 0; i < bytes.length; i += step) {
    raw += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + step)));
  }
  return btoa(raw);
}

/**
 * The payload of a kernel message: buffer `index`, or the base64 field.
 * @param {{ b64?: string | string[] }} content
 * @param {(DataView | Uint8Array)[] | undefined} buffers
 * @param {number} [index]
 * @returns {Uint8Array}
 */
export function payloadOf(content, buffers, index = 0) {
  if (buffers && buffers.length > index) return bytesOfBuffer(buffers[index]);
  const field = content.b64;
  if (Array.isArray(field)) return fromBase64(field[index] ?? "");
  if (typeof field === "string" && index === 0) return fromBase64(field);
  return new Uint8Array(0);
}

const encoder = new TextEncoder();

/**
 * xterm's `onData` gives UTF-16 strings: the kernel wants UTF-8 bytes.
 * @param {string} data
 */
export function utf8(data) {
  return encoder.encode(data);
}

/**
 * xterm's `onBinary` gives a "binary string" (one char per byte, e.g. mouse reports in X10 mode).
 * @param {string} data
 */
export function binaryString(data) {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data.charCodeAt(i) & 0xff;
  return out;
}

/**
 * Cut `bytes` into fresh (exact-size) arrays of at most `size` bytes. Fresh matters: JupyterLab sends
 * a typed array's whole underlying ArrayBuffer, not just the viewed part.
 * @param {Uint8Array} bytes
 * @param {number} [size]
 * @returns {Uint8Array[]}
 */
export function chunks(bytes, size = INPUT_CHUNK) {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/** Message types whose order matters; each carries the front end's `id` and a per-type `seq`. */
const NUMBERED = ["input", "resize", "views"];

/**
 * Sends messages with an optional byte payload, on the lane while one is open (lane.js), else on the comm
 * as a buffer or as base64, numbering those whose order matters: the kernel may handle two consecutive
 * messages on two threads at once (k8sterm_widget/widget/order.py), and a message on the lane may overtake
 * one on the comm.
 */
/**
 * `model.send`, except that a model whose comm is gone (the kernel restarted or shut down, the widget was
 * closed) drops the message instead of throwing: ipywidgets throws "Cannot send" there, and our senders
 * run from timers and observers (acks, checkpoints, view counts), where the throw was an uncaught error in
 * the page. Nothing sent then could have reached a kernel anyway.
 * @param {{ send(content: any, callbacks?: any, buffers?: ArrayBuffer[] | ArrayBufferView[]): void }} model
 * @param {Record<string, unknown>} content
 * @param {ArrayBuffer[] | ArrayBufferView[]} [buffers]
 * @returns {boolean} whether the message left
 */
export function sendToKernel(model, content, buffers) {
  try {
    model.send(content, undefined, buffers);
    return true;
  } catch {
    return false;
  }
}

export class Channel {
  /**
   * @param {{ send(content: any, callbacks?: any, buffers?: ArrayBuffer[] | ArrayBufferView[]): void }} model
   * @param {string} id this front end's id
   */
  constructor(model, id) {
    this.model = model;
    this.id = id;
    /** Front-end buffers reach the kernel (the kernel's `hello.binary_in`). */
    this.binaryIn = true;
    /** @type {Map<string, number>} */
    this.counters = new Map();
    /** @type {import("./lane.js").Lane | null} an open lane: it carries everything while it lasts */
    this.lane = null;
  }

  /**
   * @param {Record<string, unknown>} content
   * @param {Uint8Array} [bytes]
   */
  send(content, bytes) {
    const type = String(content.type);
    if (NUMBERED.includes(type)) {
      const seq = this.counters.get(type) ?? 0;
      this.counters.set(type, seq + 1);
      content = { ...content, id: this.id, seq };
    }
    if (this.lane?.send(content, bytes)) return;
    if (bytes === undefined) {
      sendToKernel(this.model, content);
    } else if (this.binaryIn) {
      const exact = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      sendToKernel(this.model, content, [exact]);
    } else {
      sendToKernel(this.model, { ...content, b64: toBase64(bytes) });
    }
  }

  /**
   * Input, cut into chunks.
   * @param {Uint8Array} bytes
   */
  input(bytes) {
    for (const part of chunks(bytes)) this.send({ type: "input" }, part);
  }
}
