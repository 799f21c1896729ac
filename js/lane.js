// The front end's end of a lane (k8sterm_widget/lane/__init__.py): one WebSocket to the Jupyter Server,
// relayed to the kernel, carrying the same messages as the comm in binary frames. Used only where the page
// is a Jupyter Server page (its `jupyter-config-data`) and the kernel offered a lane id in `hello`.

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Give up on a lane that has not opened within this time: the comm carries on. */
export const OPEN_TIMEOUT_MS = 2000;

/**
 * The WebSocket URL of lane `id`, or null when this page is not served by a Jupyter Server.
 * Authentication is the page's own: its cookies on the same host, as JupyterLab's kernel sockets do, and
 * the token where the WebSocket goes to another host.
 * @param {string} id
 * @returns {string | null}
 */
export function laneUrl(id) {
  const el = document.getElementById("jupyter-config-data");
  if (!el?.textContent) return null;
  /** @type {{ baseUrl?: string, wsUrl?: string, token?: string }} */
  let config;
  try {
    config = JSON.parse(el.textContent);
  } catch {
    return null;
  }
  if (typeof config.baseUrl !== "string") return null;
  const base = new URL(config.wsUrl || config.baseUrl, location.href);
  base.protocol = base.protocol === "https:" || base.protocol === "wss:" ? "wss:" : "ws:";
  const url = new URL(`k8sterm/lane/${id}`, base.href.endsWith("/") ? base.href : `${base.href}/`);
  if (config.token && url.host !== location.host) url.searchParams.set("token", config.token);
  return url.href;
}

/**
 * One message: u32 header length, the JSON header (with `sizes` of the buffers), the buffers.
 * @param {Record<string, unknown>} content
 * @param {Uint8Array} [bytes]
 * @returns {Uint8Array}
 */
export function encodeFrame(content, bytes) {
  const head = encoder.encode(JSON.stringify(bytes ? { ...content, sizes: [bytes.length] } : content));
  const out = new Uint8Array(4 + head.length + (bytes?.length ?? 0));
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  if (bytes) out.set(bytes, 4 + head.length);
  return out;
}

/**
 * @param {ArrayBuffer} data
 * @returns {{ content: Record<string, unknown>, buffers: Uint8Array[] } | null}
 */
export function decodeFrame(data) {
  if (data.byteLength < 4) return null;
  const hlen = new DataView(data).getUint32(0);
  if (4 + hlen > data.byteLength) return null;
  let content;
  try {
    content = JSON.parse(decoder.decode(new Uint8Array(data, 4, hlen)));
  } catch {
    return null;
  }
  if (typeof content !== "object" || content === null) return null;
  const sizes = Array.isArray(content.sizes) ? content.sizes : [];
  delete content.sizes;
  /** @type {Uint8Array[]} */
  const buffers = [];
  let pos = 4 + hlen;
  for (const size of sizes) {
    if (typeof size !== "number" || pos + size > data.byteLength) return null;
    buffers.push(new Uint8Array(data, pos, size));
    pos += size;
  }
  return { content, buffers };
}

export class Lane {
  /**
   * @param {string} url
   * @param {{
   *   message(content: Record<string, unknown>, buffers: Uint8Array[]): void,
   *   open(): void,
   *   closed(wasOpen: boolean): void,
   * }} handlers
   */
  constructor(url, handlers) {
    this.handlers = handlers;
    this.open = false;
    this.ended = false;
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.timer = setTimeout(() => this.end(), OPEN_TIMEOUT_MS);
    this.ws.onopen = () => {
      clearTimeout(this.timer);
      this.open = true;
      handlers.open();
    };
    this.ws.onmessage = (event) => {
      const frame = event.data instanceof ArrayBuffer ? decodeFrame(event.data) : null;
      if (frame) handlers.message(frame.content, frame.buffers);
    };
    this.ws.onclose = () => this.end();
    this.ws.onerror = () => this.end();
  }

  /**
   * @param {Record<string, unknown>} content
   * @param {Uint8Array} [bytes]
   * @returns {boolean} false when the lane cannot take it (the caller uses the comm)
   */
  send(content, bytes) {
    if (!this.open || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encodeFrame(content, bytes));
    return true;
  }

  /** Close for good (idempotent); `closed` tells whether it had been open. */
  end() {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const wasOpen = this.open;
    this.open = false;
    try {
      this.ws.close();
    } catch {
      // already closing
    }
    this.handlers.closed(wasOpen);
  }
}
