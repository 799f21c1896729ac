"""The replay player's static face: the recording's last screen, for readers without the widget."""

from __future__ import annotations

import json

from k8sterm_widget.recording.player import replay


def test_the_face_is_the_last_screen_at_the_last_size(tmp_path):
    path = tmp_path / "s.cast"
    events = [
        [0.1, "o", "$ echo one\r\none\r\n"],
        [0.5, "r", "20x3"],
        [1.2, "o", "\x1b[32mgreen <b>\x1b[0m\r\n$ "],
    ]
    lines = [json.dumps({"version": 2, "width": 40, "height": 5, "title": "demo"})]
    path.write_text("\n".join([*lines, *map(json.dumps, events)]) + "\n")
    player = replay(path)
    try:
        html, text = player._draw_face()
        caption, *screen = text.splitlines()
        assert caption == "recording · demo · 0:01"
        assert screen == ["one", "green <b>", "$"]  # three rows: the size the recording ended at
        assert '<span style="color:#4e9a06">green &lt;b&gt;</span>' in html
        assert f'data-k8sterm-face="{player._uid}"' in html and 'data-k8sterm-kind="player"' in html
    finally:
        player.close()
