"""Lane frames (k8sterm_widget/lane/__init__.py): what one side encodes the other decodes; junk is refused."""

from __future__ import annotations

import struct

import pytest

from k8sterm_widget.lane import MAX_FRAME, FrameError, decode, encode, frame_length, stream_frame

DEEP = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def test_round_trip_with_no_one_and_two_buffers():
    assert decode(encode({"type": "ack", "offset": 5})) == ({"type": "ack", "offset": 5}, [])
    content, buffers = decode(encode({"type": "input", "id": "a", "seq": 0}, [b"ls\r"]))
    assert content == {"type": "input", "id": "a", "seq": 0} and buffers == [b"ls\r"]
    content, buffers = decode(encode({"type": "replay"}, [b"", memoryview(b"\xff\x00tail")]))
    assert content == {"type": "replay"} and buffers == [b"", b"\xff\x00tail"]


def test_the_same_bytes_as_the_front_end_builds():
    # js/lane.js encodeFrame: u32 BE header length, compact JSON with "sizes", then the bytes.
    head = b'{"type":"input","sizes":[2]}'
    assert decode(struct.pack(">I", len(head)) + head + b"hi") == ({"type": "input"}, [b"hi"])


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00\x00",  # shorter than the length
        struct.pack(">I", 99) + b"{}",  # header longer than the message
        struct.pack(">I", 3) + b"{x}",  # not JSON
        struct.pack(">I", 2) + b"[]",  # not an object
        struct.pack(">I", 13) + b'{"sizes":[5]}' + b"abc",  # buffers longer than the message
        struct.pack(">I", 2) + b"{}" + b"junk",  # bytes after the last buffer
        struct.pack(">I", 16) + b'{"sizes":["1"]}',  # lengths that are not integers
        struct.pack(">I", len(DEEP)) + DEEP,  # nested deeper than Python's recursion limit
    ],
)
def test_malformed_frames_raise_frame_error(frame):
    with pytest.raises(FrameError):
        decode(frame)


def test_stream_framing_and_its_size_limit():
    message = encode({"type": "ack", "offset": 1})
    framed = stream_frame(message)
    assert frame_length(framed[:4]) == len(message) and framed[4:] == message
    with pytest.raises(FrameError, match="exceeds"):
        frame_length(struct.pack(">I", MAX_FRAME + 1))
