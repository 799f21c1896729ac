"""The store's write path: what its listeners (the in-process informers) may and may not do to a write."""

from __future__ import annotations

import logging

import pytest

from k8sterm_widget.demo import store as stores


def test_a_failing_listener_neither_fails_the_write_nor_starves_the_others(caplog: pytest.LogCaptureFixture):
    s = stores.Store()
    seen: list[str] = []

    def broken(event: stores.Event) -> None:
        raise RuntimeError(f"broken handler saw {event.obj['metadata']['name']}")

    def picky(event: stores.Event) -> None:
        if event.type == "DELETED":
            raise KeyError("gone")

    s.listen(broken)
    s.listen(picky)
    s.listen(lambda event: seen.append(f"{event.type} {event.obj['metadata']['name']}"))
    watcher, _ = s.watch("configmaps", None, None)

    with caplog.at_level(logging.DEBUG, logger="k8sterm_widget.demo.store"):
        for i in range(5):
            created = s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "d"}})
            assert created["metadata"]["resourceVersion"] == str(s.resource_version)
        s.mutate("configmaps", "d", "c0", lambda o: o.update(data={"k": "v"}))
        s.remove("configmaps", "d", "c1")
        s.remove("configmaps", "d", "c2")

    # every write is committed and every later listener and watcher got every event
    assert [o["metadata"]["name"] for o in s.list("configmaps")] == ["c0", "c3", "c4"]
    assert s.get("configmaps", "d", "c0")["data"] == {"k": "v"}
    assert seen == [*(f"ADDED c{i}" for i in range(5)), "MODIFIED c0", "DELETED c1", "DELETED c2"]
    assert len([e for e in watcher.drain() if e is not None]) == 8
    # one error (with its traceback) per listener and kind of failure, the repeats only at debug level
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "broken" in errors[0].getMessage() and "ADDED configmaps" in errors[0].getMessage()
    assert errors[0].exc_info and "broken handler saw c0" in str(errors[0].exc_info[1])
    assert "picky" in errors[1].getMessage() and "DELETED configmaps" in errors[1].getMessage()
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 7 + 1
