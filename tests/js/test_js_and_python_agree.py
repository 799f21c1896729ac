"""The front end and the kernel speak one protocol: the constants of ``js/`` and of the package agree, the
lane's frames cross between the two languages, and the pod browser's live ages read as the kernel's.

The front end's own unit tests are the ``*.test.mjs`` files beside this one (``node --test``, run by
``make test``); this module runs node only to read what the JavaScript says.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from k8sterm_widget import lane
from k8sterm_widget.browser.rows import human_duration
from k8sterm_widget.recording import asciicast
from k8sterm_widget.recording import terminal as recording_terminal
from k8sterm_widget.widget import flow, protocol, replay

REPO = Path(__file__).resolve().parents[2]


def node(script: str) -> Any:
    """Run an ES module in the repository's root with node; what it prints is JSON."""
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_protocol_constants_agree():
    js = node(
        "import * as p from './js/protocol.js';"
        "import { TRANSCRIPT_MAX } from './js/keep.js';"
        "import { MAX_SIZE } from './js/cast.js';"
        "console.log(JSON.stringify({ ...p, TRANSCRIPT_MAX, CAST_MAX_SIZE: MAX_SIZE }));"
    )
    assert js["CLIENT_TYPES"] == list(protocol.CLIENT_TYPES)
    assert js["KERNEL_TYPES"] == list(protocol.KERNEL_TYPES)
    assert (js["MIN_SIZE"], js["MAX_SIZE"]) == (protocol.MIN_SIZE, protocol.MAX_SIZE)
    assert js["CHECKPOINT_MAX_BYTES"] == protocol.MAX_CHECKPOINT
    assert js["INPUT_CHUNK"] <= protocol.MAX_INPUT
    assert js["LOG_LIMIT"] == replay.LIMIT  # the page keeps what the kernel's replay buffer keeps
    # The page acks before the kernel pauses, and an idle page leaves less unacked than resumes reading.
    assert js["ACK_EVERY"] < flow.HIGH and js["ACK_IDLE_MIN"] < flow.LOW
    assert js["TRANSCRIPT_MAX"] == recording_terminal.TRANSCRIPT_MAX
    assert js["CAST_MAX_SIZE"] == asciicast.MAX_SIZE


def test_lane_frames_cross_between_the_languages():
    payload = bytes(range(256))
    from_js = node(
        "import { encodeFrame } from './js/lane.js';"
        f"const bytes = Uint8Array.from({list(payload)});"
        "const frame = encodeFrame({ type: 'input', id: 'fe', seq: 7 }, bytes);"
        "console.log(JSON.stringify(Buffer.from(frame).toString('base64')));"
    )
    assert lane.decode(base64.b64decode(from_js)) == ({"type": "input", "id": "fe", "seq": 7}, [payload])
    frame = lane.encode({"type": "replay", "to": "fe", "offset": 3}, [b"ck", b"tail"])
    from_python = node(
        "import { decodeFrame } from './js/lane.js';"
        f"const data = Buffer.from('{base64.b64encode(frame).decode()}', 'base64');"
        "const msg = decodeFrame(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));"
        "console.log(JSON.stringify({ content: msg.content,"
        " buffers: msg.buffers.map((b) => Buffer.from(b).toString()) }));"
    )
    assert from_python == {"content": {"type": "replay", "to": "fe", "offset": 3}, "buffers": ["ck", "tail"]}


def test_live_ages_read_as_the_kernels():
    seconds = sorted({int(1.37**n) for n in range(80)} | {-5, 0, 119, 120, 599, 600, 10799, 10800, 28800})
    js = node(
        "import { humanDuration } from './js/duration.js';"
        f"console.log(JSON.stringify({seconds}.map(humanDuration)));"
    )
    assert js == [human_duration(s) for s in seconds]
