"""Which way kernel messages go (k8sterm_widget/widget/routes.py), with real lanes to a LanePeer."""

from __future__ import annotations

import base64

import pytest
from helpers import LanePeer, wait_until

from k8sterm_widget.widget.routes import MAX_LANES, Routes


class Comm:
    def __init__(self) -> None:
        self.sent: list[tuple[dict, list]] = []

    def __call__(self, content: dict, buffers: list) -> None:
        self.sent.append((content, buffers))


@pytest.fixture
def peer(tmp_path, monkeypatch):
    p = LanePeer(tmp_path)
    monkeypatch.setenv("K8STERM_LANE", p.path)
    yield p
    p.stop()


def routes_with_open_lane(peer, frontend="fe1"):
    comm, received = Comm(), []
    routes = Routes(comm, lambda content, buffers, fe: received.append((content, buffers, fe)))
    routes.heard_on_comm(frontend)  # its `ready` came on the comm
    lane = routes.offer(frontend)
    assert lane is not None
    peer.open(lane)
    wait_until(lambda: routes.on_lane(frontend), 5, "the lane to open")
    return routes, comm, received, lane


def test_without_a_relay_there_is_no_lane_and_everything_goes_on_the_comm():
    comm = Comm()
    routes = Routes(comm, lambda *a: None)
    routes.heard_on_comm("fe1")
    assert routes.offer("fe1") is None
    routes.send({"type": "output", "offset": 0}, [b"x"])
    routes.send({"type": "replay", "to": "fe1"}, [b"", b"x"])
    assert [c["type"] for c, _ in comm.sent] == ["output", "replay"]


def test_a_relay_that_is_gone_means_no_lane(monkeypatch, tmp_path):
    monkeypatch.setenv("K8STERM_LANE", str(tmp_path / "nobody-listens"))
    assert Routes(Comm(), lambda *a: None).offer("fe1") is None


def test_an_open_lane_carries_output_its_replies_and_what_its_front_end_sends(peer):
    routes, comm, received, lane = routes_with_open_lane(peer)
    routes.send({"type": "output", "offset": 0}, [b"hi"])
    assert peer.recv(lane) == ({"type": "output", "offset": 0}, [b"hi"])
    routes.send({"type": "replay", "to": "fe1", "offset": 0}, [b"ck", b"tail"])
    assert peer.recv(lane) == ({"type": "replay", "to": "fe1", "offset": 0}, [b"ck", b"tail"])
    routes.send({"type": "replay", "to": "other"}, [b"", b""])  # another front end's: the comm
    routes.send({"type": "detached", "offset": 2}, [])  # for everyone: the comm
    routes.send({"type": "hello", "to": "fe1", "binary_in": True}, [b"\x01"])  # probes the comm: the comm
    assert [c["type"] for c, _ in comm.sent] == ["replay", "detached", "hello"]
    peer.send(lane, {"type": "input", "id": "fe1", "seq": 0}, [b"ls\r"])
    wait_until(lambda: received, 5, "the input")
    assert received == [({"type": "input", "id": "fe1", "seq": 0}, [b"ls\r"], "fe1")]
    routes.close()


def test_a_front_end_still_on_the_comm_keeps_output_on_the_comm_too(peer):
    routes, comm, _, lane = routes_with_open_lane(peer)
    routes.heard_on_comm("fe2")  # a second page without a lane
    routes.send({"type": "output", "offset": 0}, [b"x"])
    assert peer.recv(lane)[1] == [b"x"]
    assert [c["type"] for c, _ in comm.sent] == ["output"]
    routes.close()


def test_a_front_end_heard_on_the_comm_has_left_its_lane(peer):
    """A page whose WebSocket died behind a half-open connection asks for its replay on the comm: the replay
    must not go down the lane the kernel still thinks open."""
    routes, comm, _, lane = routes_with_open_lane(peer)
    routes.heard_on_comm("fe1")
    assert not routes.on_lane("fe1")
    with pytest.raises(EOFError):
        peer.recv(lane)  # closed by the kernel
    routes.send({"type": "replay", "to": "fe1"}, [b"", b"x"])
    routes.send({"type": "output", "offset": 1}, [b"y"])
    assert [c["type"] for c, _ in comm.sent] == ["replay", "output"]


def test_at_most_max_lanes_per_terminal_the_oldest_gives_way(peer):
    comm = Comm()
    routes = Routes(comm, lambda *a: None)
    ids = [routes.offer(f"fe{i}") for i in range(MAX_LANES + 2)]
    assert all(ids)
    for gone in ids[:2]:
        with pytest.raises(EOFError):
            peer.recv(gone)
    peer.open(ids[-1])
    wait_until(lambda: routes.on_lane(f"fe{MAX_LANES + 1}"), 5, "the newest lane to open")
    routes.close()


def test_a_closed_lane_is_forgotten_and_output_goes_back_to_the_comm(peer):
    routes, comm, _, lane = routes_with_open_lane(peer)
    peer.close(lane)  # the browser went away
    wait_until(lambda: routes.open_lanes == 0, 5, "the lane to close")
    routes.send({"type": "output", "offset": 0}, [b"x"])
    assert comm.sent == [({"type": "output", "offset": 0}, [b"x"])]


def test_lanes_always_carry_buffers_even_when_the_comm_uses_base64(peer):
    routes, comm, _, lane = routes_with_open_lane(peer)
    b64 = base64.b64encode(b"\xff\x00").decode()
    routes.send({"type": "output", "offset": 0, "b64": b64}, [])
    assert peer.recv(lane) == ({"type": "output", "offset": 0}, [b"\xff\x00"])
    routes.send({"type": "replay", "to": "fe1", "b64": [b64, ""]}, [])
    assert peer.recv(lane) == ({"type": "replay", "to": "fe1"}, [b"\xff\x00", b""])
    assert comm.sent == []
    routes.close()


def test_asking_again_replaces_the_old_lane(peer):
    routes, _, _, first = routes_with_open_lane(peer)
    second = routes.offer("fe1")  # a re-initialized front end says `ready` again
    assert second != first and not routes.on_lane("fe1")
    with pytest.raises(EOFError):
        peer.recv(first)
    routes.close()
