"""``Terminal.snapshot()``: the screen as static HTML that renders where the widget cannot.

GitHub, nbviewer, nbconvert's HTML and VS Code show a cell's ``text/html`` output without running any
widget code, so a snapshot is plain HTML: no script, no external resource, styles inline.

Two sources, one output. The kernel renders the screen it models itself (:mod:`..widget.screen`) at once,
as escaped text. With a front end showing the terminal, its xterm.js renders the HTML too
(``serializeAsHTML`` of the serialize addon: colours and attributes as on screen), and the displayed
snapshot is updated in place when that answer comes (a ``display_id`` update): the kernel often cannot
hear the answer before the cell that asked has finished, since comm messages may be handled on the main
thread (measured in JupyterLab 4.6 even with ``commsOverSubshells``), so waiting for it in the cell would
only cost time. That HTML comes from the
browser and its text from the pod, so the kernel does not trust it: :func:`sanitize` re-emits it through
an allow-list (``pre``/``div``/``span``/``br``, a ``style`` attribute with a few CSS properties whose values
are colours, lengths or words), escaping all text, dropping everything else, and the content of
``script``/``style`` elements entirely. Without a front end (a headless run, nbclient) the kernel's
rendering stays.
"""

from __future__ import annotations

import html
import re
import threading
from html.parser import HTMLParser
from typing import Any

ALLOWED_TAGS = {"pre", "div", "span", "br"}
DROP_CONTENT = {"script", "style", "title", "head", "template", "iframe", "object", "noscript", "svg", "math"}
ALLOWED_CSS = {
    "color",
    "background-color",
    "font-weight",
    "font-style",
    "text-decoration",
    "opacity",
    "visibility",
    "font-family",
    "font-size",
}
_CSS_VALUE = re.compile(r"^[#\w\s.,%'\"+-]{1,200}$")
_CSS_BAD = re.compile(r"url|expression|javascript|[\\@<>(){}]", re.IGNORECASE)

FRAME_STYLE = (
    "margin:0;padding:6px 8px;border:1px solid #bdbdbd;border-radius:2px;overflow-x:auto;"
    "line-height:1.2;font-size:13px;font-family:Menlo,Consolas,'DejaVu Sans Mono',monospace;"
    "background:#ffffff;color:#000000"
)
CAPTION_STYLE = "font:12px sans-serif;color:#757575;margin:2px 0"


def clean_style(style: str) -> str:
    """Keep only allowed ``property: value`` pairs with harmless values."""
    kept = []
    for declaration in style.split(";"):
        name, sep, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not sep or name not in ALLOWED_CSS or not value:
            continue
        if not _CSS_VALUE.match(value) or _CSS_BAD.search(value):
            continue
        kept.append(f"{name}: {value}")
    return "; ".join(kept)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0  # depth inside elements whose content is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED_TAGS:
            return
        if tag == "br":
            self.out.append("<br>")
            return
        style = next((clean_style(v or "") for k, v in attrs if k == "style"), "")
        attr = f' style="{html.escape(style, quote=True)}"' if style else ""
        self.out.append(f"<{tag}{attr}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self.dropping:
            self.out.append("<br>")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in ALLOWED_TAGS or tag == "br" or tag not in self.open:
            return
        while self.open:  # close what was left open inside it, so the output stays well-formed
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def sanitize(fragment: str) -> str:
    """Allow-list HTML sanitizer for xterm's ``serializeAsHTML`` output (see the module docstring)."""
    parser = _Sanitizer()
    parser.feed(fragment)
    return parser.result()


def _pre_content(sanitized: str) -> str:
    """xterm wraps its rows in ``<pre>…</pre>``; keep what is inside, our frame has its own ``pre``."""
    start, end = sanitized.find("<pre>"), sanitized.rfind("</pre>")
    if start >= 0 and end > start:
        return sanitized[start + len("<pre>") : end]
    return sanitized


class Snapshot:
    """A terminal screen as static HTML; the last expression of a cell displays it.

    ``html`` is the complete fragment (safe: built here or sanitized), ``text`` the screen as plain text
    (also the ``text/plain`` fallback), ``source`` ``"kernel"`` or ``"browser"`` (xterm.js rendered it;
    a snapshot starts as ``"kernel"`` and is upgraded, display included, when the front end answers).
    """

    def __init__(self, html: str, text: str, source: str) -> None:
        self.html, self.text, self.source = html, text, source
        self._lock = threading.Lock()
        self._handles: list[Any] = []
        self._upgraded = threading.Event()
        if source == "browser":
            self._upgraded.set()

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        with self._lock:
            handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
            if not self._upgraded.is_set() and handle is not None:
                self._handles.append(handle)

    def upgrade(self, html: str, text: str | None = None) -> None:
        """Replace the content with the front end's rendering, also where it is already displayed."""
        with self._lock:
            self.html, self.source = html, "browser"
            if text:
                self.text = text
            handles, self._handles = self._handles, []
            self._upgraded.set()
        for handle in handles:
            try:
                handle.update(self._repr_mimebundle_(), raw=True)
            except Exception:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the front end's rendering (only useful where comm messages are not held by the cell)."""
        return self._upgraded.wait(timeout)

    def save(self, path: str) -> None:
        """Write a standalone HTML page (for a report, an e-mail, a ticket)."""
        with open(path, "w", encoding="utf-8") as f:
            head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>'
            f.write(f"{head}{self.html}</body></html>\n")

    def __repr__(self) -> str:
        return f"<k8sterm Snapshot from the {self.source}: {len(self.text)} characters>"


def _frame(inner: str, caption: str, source: str) -> str:
    cap = f'<div style="{CAPTION_STYLE}">{html.escape(caption)}</div>' if caption else ""
    pre = f'<pre style="{FRAME_STYLE}">{inner}</pre>'
    return f'<div class="k8sterm-snapshot" data-source="{source}">{cap}{pre}</div>'


_BLANK_ROWS = re.compile(r"(?:<div>(?:<span(?: style=\"[^\"]*\")?>[ \u00a0]*</span>)*</div>)+(?=</div>$)")


def browser_html(fragment: str, caption: str = "") -> str:
    """The snapshot HTML for xterm's ``serializeAsHTML`` output: sanitized, blank rows at the end cut."""
    return _frame(_BLANK_ROWS.sub("", _pre_content(sanitize(fragment))), caption, "browser")


def from_browser(fragment: str, text: str, caption: str = "") -> Snapshot:
    """A snapshot from xterm's HTML (sanitized here)."""
    return Snapshot(browser_html(fragment, caption), text, "browser")


def from_lines(lines: list[str], caption: str = "") -> Snapshot:
    """A snapshot from plain screen lines (the kernel's own screen model), escaped."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    text = "\n".join(lines)
    return Snapshot(_frame(html.escape(text, quote=False), caption, "kernel"), text, "kernel")


# xterm.js's default palette (the live terminal's light theme draws with it too); pyte names the 16 colours.
PALETTE = dict(
    zip(
        ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"],
        ["#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf"],
        strict=True,
    )
)
PALETTE.update(
    zip(
        [f"bright{name}" for name in PALETTE],
        ["#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"],
        strict=True,
    )
)
PALETTE["bfightmagenta"] = PALETTE["brightmagenta"]  # pyte's own misspelling of SGR 105
FACE_TAIL = 64 * 1024  # characters of output a face is drawn from (pyte parses ~1 MB/s)
_HEX = re.compile(r"^[0-9a-fA-F]{6}$")


def _colour(name: str, default: str) -> str:
    if name in PALETTE:
        return PALETTE[name]
    if _HEX.match(name):
        return f"#{name.lower()}"
    return default


def _char_style(char: Any) -> str:
    fg, bg = _colour(char.fg, ""), _colour(char.bg, "")
    if char.reverse:
        fg, bg = (bg or "#ffffff"), (fg or "#000000")
    parts = []
    if fg:
        parts.append(f"color:{fg}")
    if bg:
        parts.append(f"background-color:{bg}")
    if char.bold:
        parts.append("font-weight:bold")
    if char.italics:
        parts.append("font-style:italic")
    lines = [x for x, on in (("underline", char.underscore), ("line-through", char.strikethrough)) if on]
    if lines:
        parts.append(f"text-decoration:{' '.join(lines)}")
    return ";".join(parts)


def _blank(char: Any) -> bool:
    return char.data in (" ", "") and not _colour(char.bg, "") and not char.reverse


def screen_face(output: str, cols: int, rows: int) -> tuple[str, str]:
    """Draw a terminal's screen from its output (the last :data:`FACE_TAIL` characters) with pyte.

    Returns ``(html, text)``: the rows as escaped text in ``span``s whose inline styles carry the colours
    and attributes (runs of equal style merged), and as plain text; blank rows at the end are left out.
    """
    import pyte

    if len(output) > FACE_TAIL:
        output = output[-FACE_TAIL:]
        newline = output.find("\n")
        if 0 <= newline < len(output) - 1:
            output = output[newline + 1 :]
    screen = pyte.Screen(cols, rows)
    pyte.Stream(screen).feed(output)
    html_rows: list[str] = []
    text_rows: list[str] = []
    for y in range(rows):
        line = screen.buffer[y]
        chars = [line[x] for x in range(cols)]
        while chars and _blank(chars[-1]):
            chars.pop()
        text_rows.append("".join(c.data for c in chars))
        runs: list[tuple[str, list[str]]] = []
        for c in chars:
            style = _char_style(c)
            if runs and runs[-1][0] == style:
                runs[-1][1].append(c.data)
            else:
                runs.append((style, [c.data]))
        html_rows.append(
            "".join(
                f'<span style="{st}">{html.escape("".join(d), quote=False)}</span>'
                if st
                else html.escape("".join(d), quote=False)
                for st, d in runs
            )
        )
    while text_rows and not text_rows[-1].strip() and not html_rows[-1].count("<span"):
        text_rows.pop()
        html_rows.pop()
    return "\n".join(html_rows), "\n".join(text_rows)


def screen_frame(inner: str, caption: str) -> str:
    """A drawn screen (:func:`screen_face`) in the snapshot's frame, under its caption."""
    return _frame(inner, caption, "kernel")


__all__ = [
    "Snapshot",
    "browser_html",
    "clean_style",
    "from_browser",
    "from_lines",
    "sanitize",
    "screen_face",
    "screen_frame",
]
