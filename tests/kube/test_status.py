"""Status parsing: real texts from docs/exec-protocol.md §4.6 and §6 map to the right typed errors."""

import json

import pytest

from k8sterm_widget.errors import (
    CommandNotFound,
    ContainerNotRunning,
    ContainerNotValid,
    Forbidden,
    PodNotFound,
    PodNotRunning,
    RemoteError,
    Unauthorized,
)
from k8sterm_widget.kube.status import Context, error_from_status, exit_code_of, parse_status

CTX = Context(server="https://127.0.0.1:6443", pod="web-0", namespace="demo", command=["foo"])


def status(message, reason, code=None, causes=None):
    body = {"metadata": {}, "status": "Failure", "message": message, "reason": reason}
    if causes is not None:
        body["details"] = {"causes": causes}
    if code is not None:
        body["code"] = code
    return json.dumps(body)


def test_exit_code_from_nonzero_status_uses_the_cause_not_the_text():
    st = parse_status(
        status(
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
            "NonZeroExitCode",
            causes=[{"reason": "ExitCode", "message": "3"}],
        )
    )
    assert exit_code_of(st) == 3


@pytest.mark.parametrize("cause", [[], [{"message": "x"}], [{"reason": "ExitCode", "message": "300"}]])
def test_missing_or_invalid_exit_cause_gives_none(cause):
    assert exit_code_of(parse_status(status("m", "NonZeroExitCode", causes=cause))) is None


def test_plain_text_is_not_a_status():
    assert parse_status(b'container not found ("c")') is None
    assert parse_status(b"{not json") is None


def test_command_not_found_on_the_v5_path():
    msg = (
        "Internal error occurred: Internal error occurred: failed to exec in container: failed to start exec "
        '"0123": OCI runtime exec failed: exec failed: unable to start container process: exec: "foo": '
        "executable file not found in $PATH: unknown"
    )
    err = error_from_status(parse_status(status(msg, "InternalError", 500, [{"message": msg}])), "", 500, CTX)
    assert isinstance(err, CommandNotFound)
    assert err.detail == "executable file not found in $PATH"
    assert "foo" in str(err)


def test_absolute_path_missing():
    msg = (
        'Internal error occurred: failed to exec in container: failed to start exec "1": OCI runtime exec '
        'failed: exec failed: unable to start container process: exec: "/bin/bash": stat /bin/bash: '
        "no such file or directory: unknown"
    )
    err = error_from_status(parse_status(status(msg, "InternalError", 500)), "", 500, CTX)
    assert isinstance(err, CommandNotFound)
    assert "no such file or directory" in err.detail


def test_forbidden_names_user_verb_resource():
    msg = (
        'pods "web-0" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" '
        'in the namespace "demo"'
    )
    err = error_from_status(parse_status(status(msg, "Forbidden", 403)), "", 403, CTX)
    assert isinstance(err, Forbidden)
    assert (err.user, err.verb, err.resource, err.namespace) == ("viewer", "create", "pods/exec", "demo")
    assert "Role" in err.hint


def test_unauthorized_and_not_found():
    assert isinstance(
        error_from_status(parse_status(status("Unauthorized", "Unauthorized", 401)), "", 401, CTX),
        Unauthorized,
    )
    err = error_from_status(parse_status(status('pods "web-9" not found', "NotFound", 404)), "", 404, CTX)
    assert isinstance(err, PodNotFound) and 'namespace "demo"' in str(err)


def test_bad_request_variants():
    def err(msg):
        return error_from_status(parse_status(status(msg, "BadRequest", 400)), "", 400, CTX)

    assert isinstance(err("container nope is not valid for pod web-0"), ContainerNotValid)
    e = err("a container name must be specified for pod web-0, choose one of: [nginx sidecar]")
    assert isinstance(e, ContainerNotValid) and e.choices == ["nginx", "sidecar"]
    assert isinstance(err("pod pending does not have a host assigned"), PodNotRunning)


def test_container_not_running_both_paths():
    v5 = 'Internal error occurred: unable to upgrade connection: container not found ("nginx")'
    e = error_from_status(parse_status(status(v5, "InternalError", 500)), "", 500, CTX)
    assert isinstance(e, ContainerNotRunning) and e.container == "nginx"
    e = error_from_status(None, 'container not found ("nginx")', 500, CTX)  # v4: plain-text body
    assert isinstance(e, ContainerNotRunning)


def test_anything_else_is_a_remote_error_with_the_servers_message():
    e = error_from_status(
        parse_status(status("etcdserver: request timed out", "InternalError", 500)), "", 500, CTX
    )
    assert isinstance(e, RemoteError) and "etcdserver" in str(e) and e.code == 500
