"""The batching policy (k8sterm_widget/widget/coalesce.py), fake clock: echoes at once, floods batched."""

import itertools

from helpers import FakeClock

from k8sterm_widget.widget.coalesce import Coalescer


def make(**kw):
    clock = FakeClock()
    return Coalescer(clock=clock, **kw), clock


def test_a_lone_echo_goes_out_at_once():
    c, clock = make()
    assert c.add(b"a") is True
    assert c.take() == b"a"
    clock.advance(0.2)  # a person types far slower than this policy's 16 ms
    assert c.add(b"b") is True
    assert c.take() == b"b"


def test_a_chunk_right_after_a_send_waits_for_the_end_of_the_quiet_period():
    c, clock = make()
    assert c.add(b"echo") is True
    c.take()
    clock.advance(0.001)
    assert c.add(b"prompt") is False
    assert abs(c.deadline() - (clock.now + 0.015)) < 1e-9  # 16 ms after the previous send
    assert not c.due()
    clock.advance(0.014)
    assert not c.due()
    clock.advance(0.0011)
    assert c.due()
    assert c.take() == b"prompt"


def test_a_fast_typists_echo_waits_only_for_the_rest_of_the_quiet_period():
    c, clock = make()
    assert c.add(b"a") is True
    c.take()
    clock.advance(0.010)  # the next key's echo, 10 ms after the previous one went out
    assert c.add(b"b") is False
    assert abs(c.deadline() - (clock.now + 0.006)) < 1e-9  # 6 ms more, not a fresh 16


def test_a_flood_is_batched_and_never_exceeds_125_messages_per_second():
    c, clock = make()
    sent = []
    for _ in range(100_000):  # 10 s of a pod writing 4 KiB every 0.1 ms (40 MB/s)
        clock.advance(0.0001)
        if c.add(b"x" * 4096) or c.due():
            sent.append((clock.now, len(c.take())))
    times = [t for t, _ in sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= c.min_gap - 1e-9
    assert len(sent) / 10 <= 1 / c.min_gap + 1
    assert sum(n for _, n in sent) + c.pending == 100_000 * 4096
    assert max(n for _, n in sent) > c.max_bytes  # a faster pod makes bigger batches, not more messages


def test_a_full_batch_goes_out_before_the_timer():
    c, clock = make()
    c.add(b"x")
    c.take()
    clock.advance(0.009)  # past min_gap
    assert c.add(b"y" * (64 * 1024)) is True


def test_a_full_batch_still_respects_the_minimum_gap():
    c, clock = make()
    c.add(b"x")
    c.take()
    clock.advance(0.001)
    assert c.add(b"y" * (64 * 1024)) is False
    assert abs(c.deadline() - (clock.now - 0.001 + c.min_gap)) < 1e-9


def test_trickle_slower_than_the_quiet_period_is_never_delayed():
    c, clock = make()
    for _ in range(50):
        clock.advance(0.03)  # e.g. a progress bar at 30 Hz
        assert c.add(b"#") is True
        c.take()


def test_nothing_pending_means_no_deadline():
    c, _ = make()
    assert c.deadline() is None and not c.due() and c.take() == b""
