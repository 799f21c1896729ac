"""An asciicast v2 validator written from the spec (docs.asciinema.org/manual/asciicast/v2), not from our
writer: the header object and every event line, with types and monotonic times."""

from __future__ import annotations

import json
import re
from pathlib import Path


def validate_cast(path: str | Path) -> tuple[dict, list[list]]:
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "the file ends with a newline"
    lines = lines[:-1]
    header = json.loads(lines[0])
    assert isinstance(header, dict), "line 1 is a JSON object"
    assert header["version"] == 2
    for key in ("width", "height"):
        assert type(header[key]) is int and header[key] > 0, key
    if "timestamp" in header:
        assert type(header["timestamp"]) is int and header["timestamp"] > 1_500_000_000
    if "duration" in header:
        assert isinstance(header["duration"], (int, float))
    if "idle_time_limit" in header:
        assert isinstance(header["idle_time_limit"], (int, float))
    if "env" in header:
        assert isinstance(header["env"], dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in header["env"].items())
    if "title" in header:
        assert isinstance(header["title"], str)
    events, last = [], 0.0
    for number, line in enumerate(lines[1:], start=2):
        event = json.loads(line)
        assert isinstance(event, list) and len(event) == 3, f"line {number}: [time, code, data]"
        t, code, data = event
        assert isinstance(t, (int, float)) and not isinstance(t, bool), f"line {number}: time is a number"
        assert t >= last, f"line {number}: time went back from {last} to {t}"
        assert code in ("o", "i", "r", "m"), f"line {number}: code {code!r}"
        assert isinstance(data, str), f"line {number}: data is a string"
        if code == "r":
            assert re.fullmatch(r"\d+x\d+", data), f"line {number}: resize data {data!r}"
        last = t
        events.append(event)
    return header, events


def output_of(events: list[list]) -> str:
    return "".join(e[2] for e in events if e[1] == "o")
