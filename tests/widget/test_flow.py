"""Flow control (k8sterm_widget/widget/flow.py): pause above high water, resume below low, detach."""

from helpers import FakeClock

from k8sterm_widget.widget.flow import DETACH, DETACHED, OFF, ON, PAUSE, RESUME, FlowControl

MiB = 1 << 20


def make():
    clock = FakeClock()
    return FlowControl(high=MiB, low=256 * 1024, stall=3.0, clock=clock), clock


def test_no_flow_control_before_a_front_end_asks_for_output():
    f, _ = make()
    assert f.state == OFF and not f.sending
    assert f.on_sent(100 * MiB) is None  # headless: nothing to wait for
    assert not f.paused and f.deadline() is None


def test_pause_above_high_water_and_resume_below_low_water():
    f, _ = make()
    f.go_live(0)
    assert f.on_sent(MiB) is None  # exactly at the mark: still reading
    assert f.on_sent(MiB + 1) == PAUSE
    assert f.paused
    assert f.on_sent(MiB + 100) is None  # already paused: no second action
    assert f.on_ack(512 * 1024) is None  # 512 KiB unacked: above low water
    assert f.on_ack(MiB + 100 - 256 * 1024 + 1) == RESUME
    assert not f.paused and f.unacked == 256 * 1024 - 1


def test_acks_beyond_what_was_sent_or_going_backwards_are_ignored():
    f, _ = make()
    f.go_live(0)
    f.on_sent(1000)
    assert f.on_ack(2000) is None and f.acked == 0
    f.on_ack(800)
    assert f.on_ack(500) is None and f.acked == 800


def test_stalled_acks_while_paused_detach_instead_of_stalling_the_shell():
    f, clock = make()
    f.go_live(0)
    f.on_sent(2 * MiB)
    assert f.paused and f.deadline() == clock.now + 3.0
    clock.advance(2.9)
    assert f.tick() is None
    f.on_ack(100)  # a slow but living front end keeps it paused, and pushes the deadline
    clock.advance(2.9)
    assert f.tick() is None
    clock.advance(0.2)
    assert f.tick() == DETACH
    assert f.state == DETACHED and not f.paused and not f.sending


def test_a_replay_request_makes_a_detached_stream_live_again_and_resumes():
    f, _ = make()
    f.go_live(0)
    f.on_sent(2 * MiB)
    assert f.paused
    assert f.go_live(5 * MiB) == RESUME  # a reloaded page: the replay counts as delivered
    assert f.state == ON and f.unacked == 0


def test_not_paused_means_no_stall_timer():
    f, clock = make()
    f.go_live(0)
    f.on_sent(MiB // 2)
    clock.advance(60)
    assert f.deadline() is None and f.tick() is None


def test_a_page_whose_acks_have_been_slow_gets_longer_before_it_counts_as_gone():
    """Under load a living page acked 2-3 s after a batch was sent; a fixed 3 s timer detached it."""
    f, clock = make()
    f.go_live(0)
    for i in range(1, 9):  # batches acked 2.5 s after they leave
        f.on_sent(i * MiB // 2)
        clock.advance(2.5)
        f.on_ack(i * MiB // 2)
    assert 3.0 < f.stall < 30.0
    f.on_sent(8 * MiB // 2 + 2 * MiB)
    assert f.paused and f.deadline() == clock.now + f.stall
    clock.advance(3.5)  # the old fixed limit: not gone yet
    assert f.tick() is None and f.state == ON
    clock.advance(f.stall)
    assert f.tick() == DETACH


def test_fast_acks_keep_the_shortest_wait_and_a_crawling_page_at_most_the_longest():
    f, clock = make()
    f.go_live(0)
    for i in range(1, 20):
        f.on_sent(i * 1000)
        clock.advance(0.01)
        f.on_ack(i * 1000)
    assert f.stall == 3.0  # a closed page is still noticed after 3 s
    for i in range(20, 40):
        f.on_sent(i * 1000)
        clock.advance(100)
        f.on_ack(i * 1000)
    assert f.stall == 30.0


def test_only_acks_time_sends_and_a_replay_forgets_the_untimed():
    f, clock = make()
    f.go_live(0)
    f.on_sent(1000)
    clock.advance(50)
    f.go_live(1000)  # a replay counted it as delivered: never timed
    f.on_sent(2000)
    clock.advance(0.5)
    f.on_ack(2000)
    assert f.stall == 3.0  # from one 0.5 s sample, not a 50 s one
