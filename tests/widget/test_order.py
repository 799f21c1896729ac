"""Input back in order (k8sterm_widget/widget/order.py) when two kernel threads handle the messages."""

from helpers import FakeClock

from k8sterm_widget.widget.order import InputOrder, Latest


def make(**kw):
    out, clock = [], FakeClock()
    return InputOrder(out.append, clock=clock, timers=False, **kw), out, clock


def test_in_order_input_is_delivered_at_once():
    order, out, _ = make()
    for i, ch in enumerate(b"echo"):
        order.push("fe", i, bytes([ch]))
    assert b"".join(out) == b"echo"


def test_early_arrivals_wait_for_the_gap_to_close():
    order, out, _ = make()
    order.push("fe", 0, b"e")
    order.push("fe", 2, b"h")
    order.push("fe", 3, b"o")
    assert out == [b"e"]
    order.push("fe", 1, b"c")
    assert b"".join(out) == b"echo"


def test_duplicates_are_dropped():
    order, out, _ = make()
    order.push("fe", 0, b"a")
    order.push("fe", 0, b"a")
    order.push("fe", 2, b"c")
    order.push("fe", 2, b"c")
    order.push("fe", 1, b"b")
    assert out == [b"a", b"b", b"c"]


def test_a_gap_that_never_closes_is_skipped_after_the_wait():
    order, out, clock = make(gap_wait=0.5)
    order.push("fe", 0, b"a")
    order.push("fe", 2, b"c")  # 1 was dropped by the rate limiter
    clock.advance(0.4)
    order.skip_gaps()
    assert out == [b"a"]
    clock.advance(0.1)
    order.skip_gaps()
    assert out == [b"a", b"c"]
    order.push("fe", 3, b"d")
    order.push("fe", 1, b"late")  # too late: dropped, never out of order
    assert out == [b"a", b"c", b"d"]


def test_each_front_end_has_its_own_sequence():
    order, out, _ = make()
    order.push("page1", 0, b"a")
    order.push("page2", 0, b"x")  # a reloaded page starts from 0 again
    order.push("page1", 1, b"b")
    assert out == [b"a", b"x", b"b"]


def test_only_recent_front_ends_are_remembered():
    order, _, _ = make(max_frontends=3)
    for i in range(10):
        order.push(f"fe{i}", 5, b"held")
    assert len(order._fronts) == 3


def test_a_stale_resize_cannot_undo_a_newer_one():
    latest = Latest()
    assert latest.newer("fe", "resize", 1)
    assert not latest.newer("fe", "resize", 0)
    assert latest.newer("fe", "views", 0)  # kinds are independent
    assert latest.newer("fe2", "resize", 0)  # so are front ends
