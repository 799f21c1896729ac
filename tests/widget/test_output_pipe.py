"""The output pipe (k8sterm_widget/widget/output.py): offsets, replay then live, flow actions, base64."""

import base64

from helpers import FakeClock

from k8sterm_widget.widget.output import OutputPipe


class Sink:
    def __init__(self):
        self.sent = []
        self.actions = []

    def __call__(self, content, buffers):
        self.sent.append((content, buffers))

    def of(self, kind):
        return [(c, b) for c, b in self.sent if c["type"] == kind]


def make():
    clock, sink = FakeClock(), Sink()
    pipe = OutputPipe(
        sink,
        pause=lambda: sink.actions.append("pause"),
        resume=lambda: sink.actions.append("resume"),
        clock=clock,
        thread=False,
    )
    return pipe, sink, clock


def test_nothing_is_sent_before_a_front_end_asks_and_the_replay_then_has_everything():
    pipe, sink, clock = make()
    pipe.feed(b"prompt$ ")
    clock.advance(0.001)
    pipe.feed(b"more")  # pending in the coalescer
    assert sink.sent == []
    pipe.replay_to("fe1")
    (content, buffers) = sink.of("replay")[0]
    assert content == {
        "type": "replay", "to": "fe1", "offset": 0, "end": 12, "checkpoint": None, "lossy": False
    }  # fmt: skip
    assert buffers == [b"", b"prompt$ more"]
    clock.advance(0.1)
    pipe.feed(b"live")
    assert sink.of("output") == [({"type": "output", "offset": 12}, [b"live"])]


def test_offsets_are_contiguous_and_batches_flush_on_tick():
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    pipe.feed(b"a")  # at once
    clock.advance(0.001)
    pipe.feed(b"b")
    pipe.feed(b"c")
    assert [c["offset"] for c, _ in sink.of("output")] == [0]
    clock.advance(0.02)
    pipe.tick()
    assert sink.of("output") == [
        ({"type": "output", "offset": 0}, [b"a"]),
        ({"type": "output", "offset": 1}, [b"bc"]),
    ]


def test_flow_control_pauses_and_resumes_the_session():
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    for _ in range(20):
        clock.advance(0.01)
        pipe.feed(b"x" * 65536)
    assert sink.actions == ["pause"]
    pipe.ack(pipe.end)
    assert sink.actions == ["pause", "resume"]


def test_stalled_acks_detach_resume_reading_and_a_new_replay_covers_the_gap():
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    for _ in range(20):
        clock.advance(0.01)
        pipe.feed(b"x" * 65536)
    clock.advance(3.1)
    pipe.tick()
    assert sink.actions == ["pause", "resume"]
    assert sink.of("detached") == [({"type": "detached", "offset": 20 * 65536}, [])]
    sent_before = len(sink.of("output"))
    clock.advance(0.1)
    pipe.feed(b"unseen")  # detached: into the replay buffer only
    assert len(sink.of("output")) == sent_before
    pipe.replay_to("fe")
    content, buffers = sink.of("replay")[-1]
    assert content["end"] == 20 * 65536 + 6 and buffers[1].endswith(b"unseen")


def test_a_front_end_that_was_detached_resumes_from_what_it_has_not_from_the_checkpoint():
    """The loss seen under load: a live page, slow to ack, was detached; its replay redrew the screen
    from the last checkpoint (5000 lines of scrollback), so 60,000 of 100,000 lines vanished from a
    page that had them all. With ``have`` it gets exactly the bytes after its own, and no checkpoint."""
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    for _ in range(20):
        clock.advance(0.01)
        pipe.feed(b"x" * 65536)
    assert pipe.checkpoint(65536, 100, 30, b"SCREEN")  # the page checkpointed early in the flood
    clock.advance(3.1)
    pipe.tick()
    (detached, _) = sink.of("detached")[0]
    clock.advance(0.1)
    pipe.feed(b"while detached")
    pipe.replay_to("fe", have=detached["offset"])
    content, buffers = sink.of("replay")[-1]
    assert content == {
        "type": "replay", "to": "fe", "offset": detached["offset"], "end": detached["offset"] + 14,
        "checkpoint": None, "lossy": False, "resume": True,
    }  # fmt: skip
    assert buffers == [b"", b"while detached"]
    clock.advance(0.1)
    pipe.feed(b"live")
    assert sink.of("output")[-1] == ({"type": "output", "offset": detached["offset"] + 14}, [b"live"])


def test_a_resume_the_buffer_cannot_serve_is_a_full_replay():
    pipe, sink, _ = make()
    pipe.replay_to("fe")
    pipe.feed(b"0123456789")
    assert pipe.checkpoint(8, 100, 30, b"SCREEN")  # another page checkpointed beyond what "fe" has
    for have in (4, 11):  # dropped by the checkpoint; never sent
        pipe.replay_to("fe", have=have)
        content, buffers = sink.of("replay")[-1]
        assert "resume" not in content and content["checkpoint"]["offset"] == 8
        assert buffers == [b"SCREEN", b"89"]
    pipe.replay_to("fe", have=10)  # exactly the end: nothing to add, still a resume
    content, buffers = sink.of("replay")[-1]
    assert content["resume"] and content["offset"] == content["end"] == 10 and buffers == [b"", b""]


def test_checkpoints_shorten_the_replay():
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    pipe.feed(b"0123456789")
    assert pipe.checkpoint(10, 100, 30, b"\x1b[HSCREEN")
    clock.advance(0.1)
    pipe.feed(b"tail")
    pipe.replay_to("fe2")
    content, buffers = sink.of("replay")[-1]
    assert content["checkpoint"] == {"offset": 10, "cols": 100, "rows": 30}
    assert content["offset"] == 10 and content["end"] == 14
    assert buffers == [b"\x1b[HSCREEN", b"tail"]


def test_base64_mode_for_hosts_without_buffers():
    pipe, sink, clock = make()
    pipe.feed(b"\xe4\xb8\xad")  # split UTF-8 is fine: bytes stay bytes
    pipe.replay_to("fe", b64_only=True)
    content, buffers = sink.of("replay")[0]
    assert buffers == [] and base64.b64decode(content["b64"][1]) == b"\xe4\xb8\xad"
    clock.advance(0.1)
    pipe.feed(b"x")
    content, buffers = sink.of("output")[0]
    assert buffers == [] and content == {"type": "output", "offset": 3, "b64": "eA=="}


def test_injected_bytes_join_the_stream_in_order():
    pipe, sink, clock = make()
    pipe.replay_to("fe")
    pipe.feed(b"a")
    clock.advance(0.001)
    pipe.feed(b"b")
    pipe.inject(b"\r\n[reconnecting]\r\n")
    assert pipe.end == 2 + 18
    assert b"".join(b[0] for _, b in sink.of("output")) == b"ab\r\n[reconnecting]\r\n"
