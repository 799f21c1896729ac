"""Front-end message validation (k8sterm_widget/widget/protocol.py): allowlist, types, sizes, rate."""

import base64

import pytest
from helpers import FakeClock

from k8sterm_widget.widget import protocol
from k8sterm_widget.widget.protocol import Invalid, parse

FE = {"id": "fe", "seq": 0}


def test_valid_messages_parse():
    fe = {"id": "fe", "seq": 3}
    assert parse({"type": "input", **fe}, [b"ls\r"]).data == b"ls\r"
    assert parse({"type": "input", **fe}, [memoryview(b"x")]).fields == fe
    m = parse({"type": "input", **fe, "b64": base64.b64encode(b"\x1b[A").decode()}, [])
    assert m.data == b"\x1b[A" and not m.binary
    assert parse({"type": "resize", **fe, "cols": 80, "rows": 24}, []).fields == {
        **fe,
        "cols": 80,
        "rows": 24,
    }
    assert parse({"type": "ack", "offset": 123}, None).fields == {"offset": 123}
    assert parse({"type": "ready", "id": "abc"}, [b"\0"]).binary
    assert not parse({"type": "ready", "id": "abc"}, []).binary
    replay = {"type": "replay", "id": "abc", "b64": True}
    assert parse(replay, []).fields == {"id": "abc", "b64": True, "have": None}
    assert parse({**replay, "have": 12}, []).fields == {"id": "abc", "b64": True, "have": 12}
    m = parse({"type": "checkpoint", "offset": 5, "cols": 80, "rows": 24}, ["héllo".encode()])
    assert m.fields["offset"] == 5 and m.data == "héllo".encode()
    assert parse({"type": "views", "id": "abc", "seq": 0, "count": 0}, []).fields["count"] == 0
    assert parse({"type": "reconnect"}, []).type == "reconnect"


@pytest.mark.parametrize(
    ("content", "buffers", "why"),
    [
        ("not a dict", [], "content is a str"),
        ({"type": "exec", "cmd": "rm -rf /"}, [], "unknown message type"),
        ({}, [], "unknown message type"),
        ({"type": "input", **FE}, [], "no buffer and no 'b64'"),
        ({"type": "input", **FE}, [b"a", b"b"], "expected one buffer"),
        ({"type": "input", **FE}, [b"x" * (protocol.MAX_INPUT + 1)], "exceeds"),
        ({"type": "input", **FE, "b64": "!!!"}, [], "not valid base64"),
        ({"type": "input", **FE}, [12345], "buffer of type int"),
        ({"type": "input"}, [b"x"], "'id' must be a string"),
        ({"type": "input", "id": "fe", "seq": "1"}, [b"x"], "'seq' must be an integer"),
        ({"type": "resize", **FE, "cols": "80", "rows": 24}, [], "'cols' must be an integer"),
        ({"type": "resize", **FE, "cols": 80, "rows": 0}, [], "'rows' must be an integer"),
        ({"type": "resize", **FE, "cols": 100000, "rows": 24}, [], "'cols' must be an integer"),
        ({"type": "resize", **FE, "cols": True, "rows": 24}, [], "'cols' must be an integer"),
        ({"type": "resize", "cols": 80, "rows": 24}, [], "'id' must be a string"),
        ({"type": "ack", "offset": -1}, [], "'offset' must be an integer"),
        ({"type": "ack", "offset": 1.5}, [], "'offset' must be an integer"),
        ({"type": "ack", "offset": 1}, [b"x"], "unexpected buffers"),
        ({"type": "ready", "id": ""}, [], "'id' must be a string"),
        ({"type": "ready", "id": "x" * 65}, [], "'id' must be a string"),
        ({"type": "replay", "id": "a", "b64": "yes"}, [], "'b64' must be a boolean"),
        ({"type": "replay", "id": "a", "have": -1}, [], "'have' must be an integer"),
        ({"type": "replay", "id": "a", "have": "12"}, [], "'have' must be an integer"),
        ({"type": "checkpoint", "offset": 0, "cols": 80, "rows": 24}, [b"\xff\xfe"], "not UTF-8"),
        ({"type": "views", "id": "a", "seq": 0, "count": -1}, [], "'count' must be an integer"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(content, buffers, why):
    with pytest.raises(Invalid, match=why):
        parse(content, buffers)


def test_rate_limiter_allows_bursts_then_the_sustained_rate():
    clock = FakeClock()
    limiter = protocol.RateLimiter(rate=100, burst=10, clock=clock)
    assert sum(limiter.allow() for _ in range(50)) == 10
    clock.advance(0.1)
    assert sum(limiter.allow() for _ in range(50)) == 10


def test_drop_log_reports_at_most_once_a_second(caplog):
    clock = FakeClock()
    drop = protocol.DropLog(clock=clock)
    with caplog.at_level("WARNING", logger="k8sterm_widget.widget"):
        for _ in range(100):
            drop("garbage")
        clock.advance(1.0)
        drop("garbage")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "99 more dropped" in lines[1]
