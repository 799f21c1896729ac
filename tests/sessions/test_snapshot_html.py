"""Snapshots are static HTML that cannot run anything: the sanitizer and the kernel-side rendering."""

from __future__ import annotations

from k8sterm_widget.recording.snapshot import clean_style, from_browser, from_lines, sanitize

XTERM = (
    "<html><body><!--StartFragment--><pre><div style='color: #000000; background-color: #ffffff; "
    'font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px;\'>'
    "<div><span>$ echo </span>"
    "<span style='color: #cd3131; font-weight: bold;'>&lt;b&gt;hi&lt;/b&gt;</span></div>"
    "<div><span>done</span></div><div><span>   </span></div><div><span style='color: #fff;'>  </span></div>"
    "</div></pre><!--EndFragment--></body></html>"
)


def test_xterm_html_keeps_its_text_and_colours():
    snap = from_browser(XTERM, "", "demo/web-0 · nginx · connected")
    assert "$ echo " in snap.html and "&lt;b&gt;hi&lt;/b&gt;" in snap.html and "done" in snap.html
    assert "color: #cd3131" in snap.html and "font-weight: bold" in snap.html
    assert "<html" not in snap.html and "<body" not in snap.html
    assert snap.html.endswith("<div><span>done</span></div></div></pre></div>")  # blank rows at the end cut
    assert snap._repr_mimebundle_()["text/html"] == snap.html


def test_hostile_html_is_defused():
    hostile = (
        "<pre><div onclick='alert(1)' style='color: red; background-image: url(https://x/y.png)'>"
        "<script>alert(1)</script><img src=x onerror=alert(1)><a href='javascript:alert(1)'>link</a>"
        "<style>body{display:none}</style><span style='color: expression(alert(1))'>t</span>"
        "<iframe src='https://x'>inner</iframe></div></pre>"
    )
    html = sanitize(hostile)
    lowered = html.lower()
    for bad in ("<script", "onclick", "onerror", "<img", "<a ", "javascript", "url(", "expression", "<style",
                "<iframe", "alert"):  # fmt: skip
        assert bad not in lowered, (bad, html)
    assert "link" in html and "t" in html and "color: red" in html


def test_css_values_are_allow_listed():
    assert clean_style("color: #fff; position: fixed; font-weight: bold") == "color: #fff; font-weight: bold"
    assert clean_style("color: red; background-color: rgb(1,2,3)") == "color: red"  # no functions at all


def test_kernel_rendering_escapes_everything():
    snap = from_lines(["<script>alert('x')</script> & more", "", ""], "a <caption>")
    assert "<script>" not in snap.html and "&lt;script&gt;" in snap.html and "&amp; more" in snap.html
    assert "&lt;caption&gt;" in snap.html
    assert snap.text == "<script>alert('x')</script> & more"
    assert snap.source == "kernel"
