"""Fixtures for issue 6 (pod browser, debug containers, recordings and transcripts).

``private_cluster`` is a demo cluster of this directory's own: debug containers are permanent in a pod
(and change the notes ``kubectl exec`` prints for it), so tests that add them stay off the shared one.
``rec`` records every message the widgets' comms publish (see tests/widget/helpers.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import comm
import pytest

from k8sterm_widget.demo import DemoCluster

sys.path.insert(0, str(Path(__file__).parent.parent / "widget"))  # helpers.py: Recorder, wait_until

from helpers import Recorder


@pytest.fixture(scope="session")
def private_cluster(tmp_path_factory) -> Iterator[DemoCluster]:
    cluster = DemoCluster(state_dir=tmp_path_factory.mktemp("sessions-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def rec(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(comm, "create_comm", recorder.create)
    return recorder
