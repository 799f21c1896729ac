"""Kubeconfig resolution behaves like kubectl's, reads the environment at call time, and keeps secrets in."""

import os

import pytest
import yaml

from k8sterm_widget.errors import ConfigError
from k8sterm_widget.kube import config as kconfig

SECRET = "s3cr3t-token-value"


def write_kubeconfig(path, contexts, current):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c1", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "u1", "user": {"token": SECRET}}],
        "contexts": [
            {"name": name, "context": {"cluster": "c1", "user": "u1", **({"namespace": ns} if ns else {})}}
            for name, ns in contexts
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    kconfig.clear_cache()
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield
    kconfig.clear_cache()


def test_kubeconfig_env_is_read_at_call_time(monkeypatch, tmp_path):
    path = write_kubeconfig(tmp_path / "a", [("one", "team-a"), ("two", None)], "one")
    monkeypatch.setenv("KUBECONFIG", str(path))
    c = kconfig.resolve()
    assert (c.context, c.namespace, c.user, c.server) == ("one", "team-a", "u1", "https://127.0.0.1:6443")
    assert kconfig.resolve(context="two").namespace == "default"


def test_explicit_path_wins_and_missing_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "env", [("env", None)], "env")))
    explicit = write_kubeconfig(tmp_path / "explicit", [("mine", "x")], "mine")
    assert kconfig.resolve(kubeconfig=explicit).context == "mine"
    with pytest.raises(ConfigError, match="does not exist"):
        kconfig.resolve(kubeconfig=tmp_path / "nope")


def test_kubeconfig_list_is_merged(monkeypatch, tmp_path):
    a = write_kubeconfig(tmp_path / "a", [("one", "a")], "one")
    b = write_kubeconfig(tmp_path / "b", [("two", "b")], "two")
    monkeypatch.setenv("KUBECONFIG", f"{a}{os.pathsep}{tmp_path / 'absent'}{os.pathsep}{b}")
    assert kconfig.resolve().context == "one"  # the first file's current-context wins, as in kubectl
    assert kconfig.resolve(context="two").namespace == "b"


def test_unknown_context_lists_the_known_ones(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "KUBECONFIG", str(write_kubeconfig(tmp_path / "a", [("one", None), ("two", None)], "one"))
    )
    with pytest.raises(ConfigError) as info:
        kconfig.resolve(context="three")
    assert "one, two" in str(info.value)


def test_nothing_configured_says_how_to_fix():
    with pytest.raises(ConfigError) as info:
        kconfig.resolve()
    assert "KUBECONFIG" in str(info.value) and "k8sterm cluster" in str(info.value)


def test_in_cluster_when_no_kubeconfig(monkeypatch, tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(SECRET)
    (sa / "ca.crt").write_text("not a real CA, never read until a request is made\n")
    (sa / "namespace").write_text("apps\n")
    from kubernetes.config import incluster_config

    monkeypatch.setattr(kconfig, "SERVICE_ACCOUNT_DIR", sa)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    c = kconfig.resolve()
    assert (c.source, c.namespace, c.server) == ("in-cluster", "apps", "https://10.0.0.1:443")


def test_cluster_repr_and_fields_hold_no_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "a", [("one", None)], "one")))
    c = kconfig.resolve()
    assert SECRET not in repr(c)
    assert all(SECRET not in str(v) for k, v in vars(c).items() if k != "configuration")
    assert SECRET in str(
        c.configuration.api_key
    )  # the credential is there, inside the client's configuration


def test_cache_follows_file_changes(monkeypatch, tmp_path):
    path = write_kubeconfig(tmp_path / "a", [("one", "first")], "one")
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert kconfig.resolve() is kconfig.resolve()
    write_kubeconfig(path, [("one", "second")], "one")
    os.utime(path, ns=(1, os.stat(path).st_mtime_ns + 10_000_000))
    assert kconfig.resolve().namespace == "second"


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        ("https://alice:pw-SECRET@10.0.0.1:6443", "https://alice:xxxxx@10.0.0.1:6443"),
        ("https://pw-SECRET@10.0.0.1:6443/base", "https://xxxxx@10.0.0.1:6443/base"),
        ("https://alice:p%40w-SECRET@[::1]:6443", "https://alice:xxxxx@[::1]:6443"),
        ("https://10.0.0.1:6443", "https://10.0.0.1:6443"),
    ],
)
def test_a_password_in_the_server_url_is_never_shown(tmp_path, server, shown):
    """client-go shows such a URL with ``url.Redacted()`` (the password as ``xxxxx``); so do we. ``server``
    is the name every error text, the synced status and the cell output quote."""
    path = write_kubeconfig(tmp_path / "k", [("one", None)], "one")
    doc = yaml.safe_load(path.read_text())
    doc["clusters"][0]["cluster"]["server"] = server
    path.write_text(yaml.safe_dump(doc))
    c = kconfig.resolve(kubeconfig=path)
    assert c.server == shown
    assert "SECRET" not in repr(c) and "SECRET" not in str(c)
