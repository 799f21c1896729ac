"""upload/download on the demo clusters: round trips per method, kubectl cp's placement rules, typed errors,
a hostile pod's crafted archives, progress output, and (slow) a 200 MB file each way.

Containers used: web-0/nginx (GNU userland, dash as sh), web-0/sidecar (busybox applets), files/micro
(ubi-micro: bash, coreutils, no tar), files/hostile (its ``tar`` replaced by the test), distroless.
"""

import hashlib
import io
import os
import tarfile
import uuid

import pytest
from transfer_helpers import crafted, tree

import k8sterm_widget
from k8sterm_widget.errors import (
    ChecksumMismatch,
    NoTransferTool,
    RemoteNotADirectory,
    RemotePathNotFound,
    RemoteWriteError,
    TransferError,
    UnsafeArchive,
)
from k8sterm_widget.transfer import verify as verify_mod
from k8sterm_widget.transfer.remote import DECODE, name_line
from k8sterm_widget.transfer.streams import Conn


def remote_dir(kc, pod="web-0", container=None) -> str:
    """A fresh, empty directory in the container's writable /tmp."""
    path = f"/tmp/t-{uuid.uuid4().hex[:8]}"
    k8sterm_widget.exec(pod, ["mkdir", path], container=container, check=True, **kc)
    return path


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "container, up, down",
    [
        ("nginx", "tar", "tar"),
        ("nginx", "head", "base64"),
        ("sidecar", "auto", "auto"),  # busybox: tar
        ("sidecar", "head", "base64"),
        ("sidecar", "base64", "base64"),  # the sh -s here-doc script
        ("sidecar", "printf", "base64"),  # only the shell's printf on the way in
    ],
)
def test_directory_round_trip_is_exact(kc, sample_tree, tmp_path, container, up, down):
    dest = remote_dir(kc, container=container)
    r = k8sterm_widget.upload(
        "web-0", sample_tree, dest, container=container, method=up, progress=False, verify=True, **kc
    )
    assert r.remote == f"{dest}/src tree" and r.verified == "sha256" and r.files == 5
    assert r.method == ("tar" if up == "auto" else up)
    back = tmp_path / "back"
    d = k8sterm_widget.download(
        "web-0", r.remote, back, container=container, method=down, progress=False, verify=True, **kc
    )
    assert d.local == back and d.verified == "sha256" and d.files == 5 and d.skipped == []
    assert tree(back) == tree(sample_tree)  # names, contents, modes, the symlink


@pytest.mark.parametrize("method", ["tar", "cat", "base64", "head", "printf"])
def test_file_round_trip_keeps_bytes_and_mode(kc, tmp_path, method):
    data = os.urandom(300_000) + "naïve\n".encode()
    src = tmp_path / "data ü.bin"
    src.write_bytes(data)
    src.chmod(0o640)
    dest = remote_dir(kc)
    r = k8sterm_widget.upload("web-0", src, dest + "/copy.bin", method=method, progress=False, **kc)
    checked = "none" if method == "tar" else "sha256"  # by default only the tar-free methods are checked
    assert (r.remote, r.method, r.files, r.bytes, r.verified) == (
        f"{dest}/copy.bin",
        method,
        1,
        len(data),
        checked,
    )
    assert k8sterm_widget.exec("web-0", ["stat", "-c", "%a", r.remote], **kc).stdout.strip() == "640"
    got = tmp_path / "got.bin"
    down = method if method in ("tar", "cat", "base64") else "cat"
    d = k8sterm_widget.download("web-0", r.remote, got, method=down, progress=False, **kc)
    assert got.read_bytes() == data and got.stat().st_mode & 0o777 == 0o640
    assert d.verified == ("none" if down == "tar" else "sha256")


def test_without_tar_auto_falls_back_and_still_verifies(fkc, sample_tree, tmp_path):
    assert k8sterm_widget.exec("micro", "command -v tar", **fkc).exit_code != 0
    dest = remote_dir(fkc, pod="micro")
    up = k8sterm_widget.upload("micro", sample_tree, dest, progress=False, **fkc)
    assert (up.method, up.verified) == ("head", "sha256")
    one = k8sterm_widget.upload("micro", sample_tree / "hello world.txt", dest, progress=False, **fkc)
    assert (one.method, one.remote) == ("cat", f"{dest}/hello world.txt")
    down = k8sterm_widget.download("micro", up.remote, tmp_path / "back", progress=False, **fkc)
    assert (down.method, down.verified) == ("base64", "sha256")
    assert tree(tmp_path / "back") == tree(sample_tree)
    f = k8sterm_widget.download("micro", one.remote, tmp_path, progress=False, **fkc)
    assert f.method == "cat" and (tmp_path / "hello world.txt").read_text() == "hello\n"


# ---------------------------------------------------------------- where things land (kubectl cp's rules)


def test_placement_follows_kubectl_cp(kc, tmp_path):
    src = tmp_path / "report.txt"
    src.write_text("r\n")
    dest = remote_dir(kc)
    into = k8sterm_widget.upload("web-0", src, dest, progress=False, **kc)  # existing dir: inside it
    renamed = k8sterm_widget.upload("web-0", src, dest + "/renamed.txt", progress=False, **kc)  # new name
    again = k8sterm_widget.upload("web-0", src, dest + "/renamed.txt", progress=False, **kc)  # replaced
    assert (into.remote, renamed.remote, again.remote) == (
        f"{dest}/report.txt", f"{dest}/renamed.txt", f"{dest}/renamed.txt"
    )  # fmt: skip
    with pytest.raises(RemotePathNotFound):
        k8sterm_widget.upload("web-0", src, dest + "/missing-dir/", progress=False, **kc)  # "/" demands a dir
    local = tmp_path / "downloads"
    local.mkdir()
    assert (
        k8sterm_widget.download("web-0", dest, local, progress=False, **kc).local
        == local / dest.rsplit("/")[-1]
    )
    assert (local / dest.rsplit("/")[-1] / "renamed.txt").read_text() == "r\n"
    with pytest.raises(FileNotFoundError):
        k8sterm_widget.download("web-0", into.remote, tmp_path / "no" / "such" / "dir", progress=False, **kc)


# ---------------------------------------------------------------- typed errors


def test_missing_remote_paths(kc, tmp_path):
    with pytest.raises(RemotePathNotFound, match="does not exist"):
        k8sterm_widget.download("web-0", "/tmp/no such file é", tmp_path / "x", progress=False, **kc)
    assert not (tmp_path / "x").exists()
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(RemotePathNotFound, match="/tmp/no/such"):
        k8sterm_widget.upload("web-0", src, "/tmp/no/such/place", progress=False, **kc)


def test_read_only_target(kc, tmp_path, isolated):
    src = tmp_path / "f"
    src.write_text("x")
    # /sys is read-only in every container (containerd's default spec); /etc is the image's, writable
    with pytest.raises(RemoteWriteError, match="read-only"):
        k8sterm_widget.upload("web-0", src, "/sys", progress=False, **kc)
    with pytest.raises(RemoteWriteError):
        k8sterm_widget.upload("web-0", src, "/sys/new-file", progress=False, **kc)


def test_not_a_directory(kc, tmp_path):
    dest = remote_dir(kc)
    k8sterm_widget.exec("web-0", ["touch", f"{dest}/plain"], check=True, **kc)
    src = tmp_path / "d"
    src.mkdir()
    (src / "f").write_text("x")
    with pytest.raises(RemoteNotADirectory, match="plain is not a directory"):
        k8sterm_widget.upload("web-0", src / "f", f"{dest}/plain/inside", progress=False, **kc)
    with pytest.raises(RemoteNotADirectory):
        k8sterm_widget.upload("web-0", src, f"{dest}/plain", progress=False, **kc)  # a dir onto a file


def test_no_shell_no_transfer(kc, tmp_path):
    with pytest.raises(NoTransferTool, match="no shell"):
        k8sterm_widget.download("distroless", "/app/server", tmp_path / "x", progress=False, **kc)


# ---------------------------------------------------------------- the sha256 check


def test_checksum_mismatch_is_reported(kc):
    dest = remote_dir(kc)
    k8sterm_widget.exec("web-0", f"printf abc > {dest}/f", check=True, **kc)
    conn = Conn("web-0", **kc)
    assert verify_mod.verify(conn, dest, {"f": hashlib.sha256(b"abc").hexdigest()}, {"f": 3}) == "sha256"
    with pytest.raises(ChecksumMismatch, match="'f'"):
        verify_mod.verify(conn, dest, {"f": hashlib.sha256(b"abd").hexdigest()}, {"f": 3})


def test_without_a_sha256_tool_sizes_are_compared(kc, tmp_path, monkeypatch):
    monkeypatch.setattr(verify_mod, "HASHERS", ("no-such-sha256-tool",))
    src = tmp_path / "f.bin"
    src.write_bytes(b"12345")
    with pytest.warns(UserWarning, match="only file sizes"):
        r = k8sterm_widget.upload("web-0", src, remote_dir(kc), method="cat", progress=False, **kc)
    assert r.verified == "size"


@pytest.mark.parametrize("container", ["nginx", "sidecar"])
@pytest.mark.parametrize(
    "name", ["plain ü name", "back\\slash \\n", "new\nline", " lead and trail \t", "-dash", "*?[x]"]
)
def test_name_lines_come_back_exactly_in_the_containers_shell(kc, container, name):
    """The encoding that carries names in data streams, decoded by dash / busybox as the scripts do."""
    line = name_line(name)
    assert b"\n" not in line and line.startswith(b"./")
    script = f'IFS= read -r f; {DECODE}; printf %s "$f"'
    r = k8sterm_widget.exec("web-0", ["sh", "-c", script], container=container, input=line + b"\n", **kc)
    assert r.stdout_bytes == ("./" + name).encode()


# ---------------------------------------------------------------- a hostile pod


def plant_tar(fkc, archive: bytes) -> None:
    """Make files/hostile's ``tar`` (first on its PATH) print ``archive``, whatever it is asked."""
    k8sterm_widget.exec("hostile", "mkdir -p /tmp/evil", check=True, **fkc)
    k8sterm_widget.exec("hostile", "cat > /tmp/evil/payload.tar", input=archive, check=True, **fkc)
    script = "#!/bin/sh\nexec cat /tmp/evil/payload.tar\n"
    k8sterm_widget.exec(
        "hostile", "cat > /tmp/evil/tar && chmod 755 /tmp/evil/tar", input=script, check=True, **fkc
    )


@pytest.mark.parametrize(
    "members",
    [
        [("dir", ".", None), ("file", "./../escaped", b"x")],
        [("dir", ".", None), ("file", "/tmp/escaped", b"x")],
        [
            ("dir", ".", None),
            ("symlink", "./q", "."),
            ("symlink", "./p", "q/.."),
            ("file", "./p/escaped", b"x"),
        ],
    ],
    ids=["dotdot", "absolute", "link-chain"],
)
def test_crafted_archive_from_a_pod_cannot_escape(fkc, tmp_path, members, isolated):
    plant_tar(fkc, crafted(*members))
    k8sterm_widget.exec("hostile", "mkdir -p /tmp/victim", check=True, **fkc)
    local = tmp_path / "inbox"
    local.mkdir()
    with pytest.raises(UnsafeArchive):
        k8sterm_widget.download("hostile", "/tmp/victim", local, progress=False, **fkc)
    assert list(local.iterdir()) == []  # the half-written download was removed
    assert not (tmp_path / "escaped").exists() and not os.path.exists("/tmp/escaped")


@pytest.mark.parametrize(
    "mode", ["999", "\u0663\u0664\u0664", "77777777"], ids=["nine", "arabic-digits", "too-long"]
)
def test_a_walker_record_with_a_mode_that_is_not_octal_is_a_typed_error(fkc, tmp_path, mode):
    """Without tar a directory comes through the shell walker, whose modes come from ``stat -c %a``; a pod
    whose ``stat`` prints something else gets a TransferError, not a bare ValueError from int(..., 8)."""
    k8sterm_widget.exec(
        "hostile", "mkdir -p /tmp/evil /tmp/walked && echo x > /tmp/walked/f", check=True, **fkc
    )
    script = f"#!/bin/sh\nprintf '%s\\n' '{mode}'\n"
    k8sterm_widget.exec(
        "hostile", "cat > /tmp/evil/stat && chmod 755 /tmp/evil/stat", input=script, check=True, **fkc
    )
    try:
        with pytest.raises(TransferError, match="unexpected record"):
            k8sterm_widget.download(
                "hostile", "/tmp/walked", tmp_path / "got", method="base64", progress=False, **fkc
            )
    finally:
        k8sterm_widget.exec("hostile", "rm -f /tmp/evil/stat", check=True, **fkc)
    assert not (tmp_path / "got").exists()  # the half-written download was removed


def test_pod_links_outside_are_skipped_with_a_warning(fkc, tmp_path, isolated):
    plant_tar(fkc, crafted(("dir", ".", None), ("symlink", "./conf", "/etc/nginx"), ("file", "./ok", b"ok")))
    k8sterm_widget.exec("hostile", "mkdir -p /tmp/victim", check=True, **fkc)
    with pytest.warns(UserWarning, match="1 entries not copied"):
        r = k8sterm_widget.download(
            "hostile", "/tmp/victim", tmp_path / "got", progress=False, verify=False, **fkc
        )
    assert r.skipped == [("./conf", "symlink to '/etc/nginx' points outside the destination")]
    assert (tmp_path / "got" / "ok").read_bytes() == b"ok" and not (tmp_path / "got" / "conf").exists()


# ---------------------------------------------------------------- progress


def test_progress_bar_in_a_terminal(kc, tmp_path, capsys):
    src = tmp_path / "p.bin"
    src.write_bytes(os.urandom(2_000_000))
    k8sterm_widget.upload("web-0", src, remote_dir(kc), **kc)
    err = capsys.readouterr().err
    assert "upload web-0:/tmp/" in err and "100%" in err and "1.91M" in err
    k8sterm_widget.upload("web-0", src, remote_dir(kc), progress=False, **kc)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- big


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tar", "cat"])
def test_200_mb_each_way(kc, tmp_path, method):
    size = 200 * 1000 * 1000
    src = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(0, size, len(block)):
            piece = block[: size - i]
            f.write(piece)
            digest.update(piece)
    dest = remote_dir(kc)
    try:
        up = k8sterm_widget.upload("web-0", src, dest, method=method, progress=False, verify=True, **kc)
        assert (up.bytes, up.verified) == (size, "sha256")
        src.unlink()
        down = k8sterm_widget.download("web-0", up.remote, tmp_path, method=method, progress=False, **kc)
        assert down.verified == ("none" if method == "tar" else "sha256")
        got = hashlib.sha256()
        with open(tmp_path / "big.bin", "rb") as f:
            while chunk := f.read(1 << 20):
                got.update(chunk)
        assert got.hexdigest() == digest.hexdigest()
    finally:
        k8sterm_widget.exec("web-0", ["rm", "-rf", dest], **kc)


def test_tar_member_names_keep_spaces_and_utf8(kc, tmp_path):
    """What GNU tar in the pod lists for our upload stream: names arrive as the user wrote them."""
    src = tmp_path / "x"
    (src / "ü ñ").mkdir(parents=True)
    (src / "ü ñ" / "f g.txt").write_text("1")
    dest = remote_dir(kc)
    k8sterm_widget.upload("web-0", src, dest, method="tar", progress=False, **kc)
    listing = k8sterm_widget.exec("web-0", f"cd {dest} && find . | sort", **kc).stdout.splitlines()
    assert listing == [".", "./x", "./x/ü ñ", "./x/ü ñ/f g.txt"]
    archive = k8sterm_widget.exec("web-0", ["tar", "-cf", "-", "-C", dest, "."], **kc).stdout_bytes
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        assert "./x/ü ñ/f g.txt" in t.getnames()
