"""The stdin queue (k8sterm_widget/widget/stdin.py): bounded, and its drops logged like every other drop."""

from __future__ import annotations

import logging

from k8sterm_widget.widget.protocol import DropLog
from k8sterm_widget.widget.stdin import InputQueue


def test_300_dropped_inputs_log_one_line_that_counts_them(caplog):
    """Keys typed into a full queue (a stuck or still-connecting session) are dropped; a paste flood used to
    log one line per message (195 lines for 300 drops). Like the other drops: one line per second."""
    now = [0.0]
    queue = InputQueue(limit=10, drop=DropLog(clock=lambda: now[0]))
    with caplog.at_level(logging.WARNING, "k8sterm_widget.widget"):
        assert queue.put(b"0123456789")  # fits: nothing is attached yet, so it waits
        results = [queue.put(b"more keys") for _ in range(300)]
        assert not any(results)
        now[0] += 1.0
        assert not queue.put(b"later")
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "input" in lines[0] and "299 more dropped" in lines[1]
    queue.stop()


def test_input_after_stop_is_dropped_quietly_once(caplog):
    queue = InputQueue(drop=DropLog(clock=lambda: 5.0))
    queue.stop()
    with caplog.at_level(logging.WARNING, "k8sterm_widget.widget"):
        assert not any([queue.put(b"x") for _ in range(50)])
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
