"""A red-team pass over the demo apiserver through real kubectl 1.37 and raw HTTP: every bad manifest gets the
text a v1.37 kube-apiserver answers, and nothing half-created (an object, a ClusterIP, a node port) is left.

Each expected text cites the upstream code it comes from.  A cluster of its own (an empty scenario), so what
these tests create and break stays off the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.scenario import parse
from tests.conftest import Kubectl
from tests.demo.demo_helpers import api
from tests.demo.test_demo_rest import SCENARIO


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    with DemoCluster(parse(SCENARIO), state_dir=tmp_path_factory.mktemp("fidelity-cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def k(cluster: DemoCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("fidelity-kubectl-home"))


def test_kubectl_create_deployment_keeps_the_template_timestamp_null(
    cluster: DemoCluster, k: Kubectl
) -> None:
    # kubectl posts protobuf; a zero metav1.Time is an empty message, which Go decodes to time.Time{} and
    # writes as null (apimachinery pkg/apis/meta/v1/time_proto.go) -- not as the Unix epoch.
    r = k("create", "deployment", "tpl", "--image=busybox:1.36", "--", "sleep", "infinity")
    assert r.returncode == 0, r.stderr
    got = api(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/tpl").json()
    assert got["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert k("delete", "deployment", "tpl").returncode == 0
