"""The extractor against crafted archives: nothing a pod sends may land outside the destination.

These feed hand-made tar streams straight to the extractor (no cluster needed); ``test_transfer.py`` sends
some of the same archives through a real pod whose ``tar`` was replaced.
"""

import io
import os
import tarfile
from pathlib import Path

import pytest
from transfer_helpers import crafted

from k8sterm_widget.errors import TransferError, UnsafeArchive
from k8sterm_widget.transfer.safe_extract import Extractor
from k8sterm_widget.transfer.tarstream import TarReader


def extract(data: bytes, target: Path, single: str | None = None) -> Extractor:
    """What a download does with a pod's archive: TarReader splits it, the Extractor decides."""
    ex = Extractor(target, single=single)
    try:
        tar = TarReader(io.BytesIO(data))
        for info in tar:
            ex.member(info, tar.data())
        ex.finish()
    except BaseException:
        ex.abort()
        raise
    return ex


@pytest.fixture
def box(tmp_path):
    """A destination inside a sandbox; ``outside`` is what an escape would write to."""
    (tmp_path / "outside").mkdir()
    return tmp_path / "dest", tmp_path / "outside"


def nothing_outside(tmp_path: Path) -> None:
    assert list((tmp_path / "outside").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) in (["outside"], ["dest", "outside"])


@pytest.mark.parametrize(
    "members",
    [
        [("file", "./../outside/escaped", b"x")],
        [("file", "../../outside/escaped", b"x")],
        [("file", "/tmp/absolute-escape", b"x")],
        [("dir", "./a", None), ("file", "a/../../outside/escaped", b"x")],
        [("hardlink", "./h", "../outside/secret")],
        [("hardlink", "./h", "never-sent")],
        # a chain of links, each lexically inside, that together resolve to the destination's parent:
        [("symlink", "./q", "."), ("symlink", "./p", "q/.."), ("file", "./p/outside/escaped", b"x")],
    ],
    ids=[
        "dotdot",
        "dotdot-deep",
        "absolute",
        "dotdot-after-dir",
        "hardlink-out",
        "hardlink-unknown",
        "link-chain",
    ],
)
def test_escaping_members_are_refused_and_the_destination_removed(box, tmp_path, members):
    dest, _ = box
    with pytest.raises(UnsafeArchive):
        extract(crafted(("dir", ".", None), *members), dest)
    assert not dest.exists()  # it did not exist before: a failed download leaves nothing
    nothing_outside(tmp_path)


def test_links_pointing_outside_are_skipped_and_never_written_through(box, tmp_path):
    dest, _ = box
    archive = crafted(
        ("dir", ".", None),
        ("symlink", "./etc", "/etc"),
        ("symlink", "./up", ".."),
        ("symlink", "./sneaky", "sub/../../outside"),
        ("file", "./etc/passwd", b"not the host's"),  # the link was skipped: this is a plain new directory
        ("file", "./up/escaped", b"x"),
        ("symlink", "./ok", "etc/passwd"),
        ("fifo", "./pipe", None),
    )
    ex = extract(archive, dest)
    skipped = dict(ex.skipped)
    assert set(skipped) == {"./etc", "./up", "./sneaky", "./pipe"}
    assert "outside" in skipped["./up"] and "fifo" in skipped["./pipe"]
    assert (dest / "etc" / "passwd").read_bytes() == b"not the host's" and not (dest / "etc").is_symlink()
    assert (dest / "up" / "escaped").read_bytes() == b"x"
    assert os.readlink(dest / "ok") == "etc/passwd"
    nothing_outside(tmp_path)


def test_an_existing_symlink_in_the_way_is_replaced_not_followed(box, tmp_path):
    dest, outside = box
    dest.mkdir()
    (dest / "target").symlink_to(outside / "victim")
    extract(crafted(("dir", ".", None), ("file", "./target", b"new")), dest)
    assert not (dest / "target").is_symlink() and (dest / "target").read_bytes() == b"new"
    nothing_outside(tmp_path)


def test_setuid_bits_are_dropped(box):
    dest, _ = box
    extract(crafted(("dir", ".", None), ("file", "./tool", b"#!/bin/sh\n")), dest)
    assert (dest / "tool").stat().st_mode & 0o7777 == 0o755


def test_single_file_download_accepts_only_the_requested_name(box, tmp_path):
    dest, _ = box
    with pytest.raises(UnsafeArchive, match="only 'wanted'"):
        extract(crafted(("file", "./wanted", b"ok"), ("file", "./extra", b"x")), dest, single="wanted")
    assert not dest.exists()
    ex = extract(crafted(("file", "./wanted", b"ok")), dest, single="wanted")
    assert dest.read_bytes() == b"ok" and ex.files == 1
    nothing_outside(tmp_path)


def test_tar_reader_matches_tarfile_on_long_and_pax_names(box):
    """GNU long names, pax paths (non-ASCII, > 100 bytes), empty files and a trailing record pad."""
    dest, _ = box
    long_dir = "d" * 120
    names = [f"./{long_dir}", f"./{long_dir}/ü " + "n" * 150, "./empty", "./plain"]
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w|", format=fmt) as tar:
            for name in names:
                info = tarfile.TarInfo(name)
                payload = b"" if "empty" in name else name.encode() * 50
                if name.endswith(long_dir):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
        data = buf.getvalue() + bytes(10240)  # tar pads to a whole record
        got = [
            (i.name, b"".join(r.data()) if i.isreg() else None)
            for r in [TarReader(io.BytesIO(data))]
            for i in r
        ]
        with tarfile.open(fileobj=io.BytesIO(data)) as ref:
            want = [(m.name, ref.extractfile(m).read() if m.isreg() else None) for m in ref.getmembers()]
        assert got == want
        ex = extract(data, dest / str(fmt))
        assert ex.files == 3 and (dest / str(fmt) / long_dir / ("ü " + "n" * 150)).stat().st_size == len(
            names[1].encode() * 50
        )


def test_tar_reader_refuses_a_corrupt_header(box):
    dest, _ = box
    data = bytearray(crafted(("file", "./a", b"x")))
    data[148:156] = b"0000000\0"  # the header checksum
    with pytest.raises(TransferError, match="corrupt header"):
        extract(bytes(data), dest)
