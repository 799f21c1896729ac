"""The front end, sent once per kernel and shared by every widget, instead of copied into each one's state.

An anywidget carries its JavaScript module in its ``_esm`` trait, so every widget model holds the whole
front end: a notebook saved with widget state (JupyterLab's ``saveState``, ``nbconvert --execute``) stored
585 KB of the same code for every terminal. anywidget 0.11 loads ``_esm`` either as code or from an
``http(s)://`` URL, and has no module shared between models; but its model proxy exposes the page's
``widget_manager``, through which one model can reach another by id (what ``host.getModel`` uses too).

So the code lives in one :class:`Bundle` model per bundle and kernel — a plain ``WidgetModel`` of
``@jupyter-widgets/base``, which every widget manager knows, holding the bundle gzip-compressed (base64 of
gzip: 585 KB → 200 KB) — and each widget's ``_esm`` is :data:`LOADER`, a few hundred bytes that find
the bundle model named by the widget's ``_bundle`` trait, decompress it once per page
(``DecompressionStream``), import it once and hand it each widget's ``initialize`` and ``render``. The
bundle's CSS travels the same way, and the widget's own ``_css`` is empty. A notebook saved with widget
state then holds the front end once, and each terminal only its own state.

Where there is no Jupyter widget manager to reach another model through (marimo runs anywidgets itself),
or while anywidget's hot reload is on (``ANYWIDGET_HMR``: it watches ``_esm`` files), a widget carries its
bundle inline as before: :func:`esm_and_css`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import ipywidgets
import traitlets as t

STATIC = Path(__file__).resolve().parent / "static"

# The widget's whole _esm: wait for the shared bundle model, load the bundle once per page, delegate to it.
# Plain JS so that it needs no build; kept small, since every widget's saved state holds it.
LOADER = """\
const cache = (globalThis.__k8stermBundles ??= new Map());
async function unzip(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}
async function lookup(manager, id) {
  for (let tries = 0; ; tries++) {  // a page restoring its models may not have registered it yet
    try { return await manager.get_model(id); } catch (e) {
      if (tries >= 30) throw e;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
function bundle(model) {
  const ref = String(model.get("_bundle") || "");
  const manager = model.widget_manager;
  if (!ref.startsWith("IPY_MODEL_") || !manager?.get_model) {
    return Promise.reject(new Error("k8sterm: this host cannot reach the shared front end"));
  }
  return lookup(manager, ref.slice(10)).then((lib) => {
    const digest = lib.get("digest");
    if (!cache.has(digest)) {
      cache.set(digest, (async () => {
        const [code, css] = await Promise.all([unzip(lib.get("code")), unzip(lib.get("css"))]);
        if (css && !document.getElementById("k8sterm-css-" + digest)) {
          const style = document.createElement("style");
          style.id = "k8sterm-css-" + digest;
          style.textContent = css;
          document.head.appendChild(style);
        }
        const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
        try { return (await import(url)).default; } finally { URL.revokeObjectURL(url); }
      })());
    }
    return cache.get(digest);
  });
}
export default {
  async initialize(ctx) { const mod = await bundle(ctx.model); return mod.initialize?.(ctx); },
  async render(ctx) { const mod = await bundle(ctx.model); return mod.render(ctx); },
};
"""


def _pack(path: Path) -> str:
    data = path.read_bytes() if path.is_file() else b""
    return base64.b64encode(gzip.compress(data, 9, mtime=0)).decode("ascii")


class Bundle(ipywidgets.Widget):
    """The bundle of the front end (``k8sterm``: every widget's), once per kernel: see the module.

    A plain ``WidgetModel`` with no view; ``code`` and ``css`` are base64 of gzip, ``digest`` names the
    version (a page that already loaded it does not load it again).
    """

    name = t.Unicode("").tag(sync=True)
    digest = t.Unicode("").tag(sync=True)
    code = t.Unicode("").tag(sync=True)
    css = t.Unicode("").tag(sync=True)


_bundles: dict[str, Bundle] = {}
_lock = threading.Lock()


@cache
def _packed(name: str) -> tuple[str, str, str]:
    js, css = STATIC / f"{name}.js", STATIC / f"{name}.css"
    code, style = _pack(js), _pack(css)
    digest = hashlib.sha256(f"{code}\0{style}".encode()).hexdigest()[:16]
    return code, style, digest


def bundle(name: str) -> Bundle:
    """The kernel's shared model of bundle ``name`` (created on first use, again if it was closed)."""
    with _lock:
        model = _bundles.get(name)
        if model is None or model.comm is None:
            code, css, digest = _packed(name)
            model = Bundle(name=name, digest=digest, code=code, css=css)
            _bundles[name] = model
        return model


def shared() -> bool:
    """Whether widgets share their front end here (a Jupyter kernel), or carry it inline."""
    if os.environ.get("ANYWIDGET_HMR"):
        return False
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return False
    return Kernel.initialized()


class SharedFrontEnd(anywidget.AnyWidget):
    """An anywidget whose front end is the shared bundle :attr:`bundle_name` where widgets share it.

    Every widget class loads the same module (``static/k8sterm.js``: xterm.js once for all of them, see
    ``js/bundle.js``) and names its part of it in ``_part``. The files in ``_esm``/``_css`` are used inline
    where nothing is shared.
    """

    bundle_name: ClassVar[str] = "k8sterm"
    part: ClassVar[str] = "terminal"  # which widget of the bundle this class is (js/bundle.js)
    _esm = STATIC / "k8sterm.js"
    _css = STATIC / "k8sterm.css"
    _bundle = t.Instance(Bundle, allow_none=True).tag(sync=True, **ipywidgets.widget_serialization)
    _part = t.Unicode("").tag(sync=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["_part"] = self.part
        if shared():
            kwargs.update(_esm=LOADER, _css="", _bundle=bundle(self.bundle_name))
        super().__init__(*args, **kwargs)


__all__ = ["LOADER", "STATIC", "Bundle", "SharedFrontEnd", "bundle", "shared"]
