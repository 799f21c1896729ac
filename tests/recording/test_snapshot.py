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


# ---- the kernel's own drawing of a screen (the static face of a Terminal) ----------------------------------


def test_screen_face_draws_colours_and_attributes_as_inline_styles():
    from k8sterm_widget.recording.snapshot import screen_face

    output = "plain \x1b[1;31mbold red\x1b[0m \x1b[38;5;208m256\x1b[38;2;1;2;3mrgb\x1b[0m"
    output += " \x1b[7mrev\x1b[0m\r\n"
    html, text = screen_face(output, 40, 4)
    assert text == "plain bold red 256rgb rev"
    assert '<span style="color:#cc0000;font-weight:bold">bold red</span>' in html
    assert '<span style="color:#ff8700">256</span><span style="color:#010203">rgb</span>' in html
    assert '<span style="color:#ffffff;background-color:#000000">rev</span>' in html


def test_screen_face_escapes_what_the_pod_printed():
    from k8sterm_widget.recording.snapshot import screen_face

    html, text = screen_face("<script>alert(1)</script> & \x1b[32m<b>\x1b[0m\r\n", 60, 3)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert '<span style="color:#4e9a06">&lt;b&gt;</span>' in html
    assert text.startswith("<script>alert(1)</script> &")


def test_screen_face_keeps_the_last_screen_of_long_output_and_drops_blank_rows_at_the_end():
    from k8sterm_widget.recording.snapshot import FACE_TAIL, screen_face

    output = "".join(f"line {i}\r\n" for i in range(FACE_TAIL // 5)) + "$ "
    html, text = screen_face(output, 30, 5)
    rows = text.splitlines()
    assert rows[-1] == "$" and rows[-2] == f"line {FACE_TAIL // 5 - 1}" and len(rows) == 5
    html, text = screen_face("only\r\n", 30, 5)
    assert text == "only" and html == "only"
