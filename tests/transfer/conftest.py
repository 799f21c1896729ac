"""Fixtures for upload/download (``kc``, the session's cluster, is in tests/conftest.py).

``files_cluster`` is a second, small cluster
from ``transfer-scenario.yaml`` with the pods the default scenario lacks: ``micro`` (an image without tar)
and ``hostile`` (whose ``tar`` a test replaces, to send crafted archives).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sterm_widget.demo import DemoCluster

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def files_cluster(tmp_path_factory) -> Iterator[DemoCluster]:
    with DemoCluster(
        HERE / "transfer-scenario.yaml", state_dir=tmp_path_factory.mktemp("files-cluster")
    ) as c:
        yield c


@pytest.fixture
def isolated(demo_cluster, files_cluster) -> None:
    """Skip unless containers have their own root (namespaces): a read-only /etc, a private /tmp."""
    if {demo_cluster.isolation, files_cluster.isolation} != {"namespaces"}:
        pytest.skip(
            "needs the demo runtime's namespace isolation (this host runs containers as plain processes)"
        )


@pytest.fixture
def fkc(files_cluster) -> dict:
    return {"kubeconfig": files_cluster.kubeconfig, "context": "demo-admin", "namespace": "files"}


@pytest.fixture
def sample_tree(tmp_path) -> Path:
    """A small tree with what trips transfers up: spaces, non-ASCII, an empty file, modes, a link, binary."""
    root = tmp_path / "src tree"
    (root / "sub ü dir" / "deeper").mkdir(parents=True)
    (root / "hello world.txt").write_text("hello\n")
    (root / "sub ü dir" / "naïve café.bin").write_bytes(bytes(range(256)) * 300 + b"\x00\xff")
    (root / "sub ü dir" / "deeper" / "-starts-with-dash").write_text("dash\n")
    (root / "empty").write_bytes(b"")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o750)
    (root / "link to hello").symlink_to("hello world.txt")
    return root
