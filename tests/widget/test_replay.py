"""Replay buffer (k8sterm_widget/widget/replay.py): a checkpoint plus the bytes after it, bounded."""

from k8sterm_widget.widget.replay import ReplayBuffer


def test_without_a_checkpoint_the_replay_is_all_output():
    r = ReplayBuffer(limit=100)
    r.append(b"hello ")
    r.append(b"world")
    snap = r.snapshot()
    assert snap.checkpoint is None and snap.start == 0 and snap.tail == b"hello world" and not snap.lossy
    assert snap.end == r.end == 11


def test_a_checkpoint_drops_the_bytes_it_covers():
    r = ReplayBuffer(limit=100)
    r.append(b"0123456789")
    assert r.set_checkpoint(4, 80, 24, b"SCREEN")
    r.append(b"abc")
    snap = r.snapshot()
    assert snap.checkpoint.offset == 4 and snap.checkpoint.data == b"SCREEN"
    assert snap.start == 4 and snap.tail == b"456789abc" and not snap.lossy


def test_old_or_future_checkpoints_are_refused():
    r = ReplayBuffer(limit=100)
    r.append(b"0123456789")
    assert r.set_checkpoint(6, 80, 24, b"A")
    assert not r.set_checkpoint(5, 80, 24, b"older")
    assert not r.set_checkpoint(11, 80, 24, b"future")
    assert r.set_checkpoint(10, 80, 24, b"B")  # at the end: empty tail
    assert r.snapshot().tail == b"" and r.snapshot().start == 10


def test_over_the_limit_the_head_is_dropped_and_the_replay_is_lossy():
    r = ReplayBuffer(limit=10)
    r.append(b"0123456789")
    r.append(b"abcd")
    snap = r.snapshot()
    assert snap.tail == b"456789abcd" and snap.start == 4 and snap.lossy
    assert r.size == 10
    assert r.set_checkpoint(12, 80, 24, b"S")  # a fresh checkpoint makes it whole again
    assert not r.snapshot().lossy and r.snapshot().tail == b"cd"


def test_memory_stays_bounded_whatever_streams_through():
    r = ReplayBuffer(limit=1 << 16)
    chunk = bytes(range(256)) * 16
    for _ in range(10_000):  # 40 MB
        r.append(chunk)
    assert r.size == 1 << 16 and r.end == 10_000 * len(chunk)
    assert r.snapshot().tail == (chunk * 16)[-(1 << 16) :]


def test_since_gives_the_bytes_after_an_offset_while_they_are_all_kept():
    r = ReplayBuffer(limit=8)
    r.append(b"0123")
    r.append(b"4567")
    assert r.since(0) == b"01234567" and r.since(5) == b"567" and r.since(8) == b""
    assert r.since(9) is None  # not yet output
    r.append(b"89")  # over the limit: "01" dropped
    assert r.since(1) is None and r.since(2) == b"23456789"
    r.set_checkpoint(6, 80, 24, b"S")
    assert r.since(5) is None and r.since(6) == b"6789"
