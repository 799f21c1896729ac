"""File transfer throughput: ``upload``/``download`` with and without tar, beside ``kubectl cp``, same run.

``python -m benchmarks.file_transfer`` starts the demo cluster in its own process, writes a file of random
bytes (200 MB by default) and moves it into and out of ``web-0``'s nginx container, median of several
repetitions each, in MB/s (10^6 bytes per second, wall time of the whole call):

* **kubectl cp** 1.37 — tar in the container, the yardstick;
* **k8sterm tar** — ``method="tar"``, streamed through ``tarfile``; as shipped (no end-to-end check, like
  ``kubectl cp``) and with ``verify=True`` (we hash while streaming, one more exec runs ``sha256sum``);
* **k8sterm without tar** — ``method="cat"`` (raw bytes through ``cat``, what ``auto`` picks for one file
  when the image has no tar), as shipped (sha256-checked) and with ``verify=False``, and ``method="base64"``
  (the next fallback, checked).

All rows use the same container, so the methods are compared on equal terms; the tar-free ones would work
unchanged in an image without tar, where ``kubectl cp`` fails. The machine is noisy: read medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import k8sterm_widget
from k8sterm_widget.demo.external import ExternalCluster

from .kubectl_exec import KubectlTarget

POD, NAMESPACE, CONTAINER = "web-0", "demo", "nginx"
REMOTE = "/tmp/bench-transfer.bin"


def make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for offset in range(0, size, len(block)):
            f.write(block[: size - offset])


def _median_rate(fn, size: int, repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return size / 1e6 / statistics.median(times)


def k8sterm_rates(
    kc: dict, src: Path, workdir: Path, size: int, repeat: int, **options
) -> tuple[float, float]:
    """(upload MB/s, download MB/s) with ``k8sterm_widget.upload``/``download`` and the given options."""
    target = workdir / "down.bin"
    conn = {"namespace": NAMESPACE, "container": CONTAINER, "progress": False, **kc, **options}

    def up() -> None:
        r = k8sterm_widget.upload(POD, src, REMOTE, **conn)
        assert r.bytes == size

    def down() -> None:
        r = k8sterm_widget.download(POD, REMOTE, target, **conn)
        assert r.bytes == size

    def clean() -> None:
        target.unlink(missing_ok=True)

    return _median_rate(up, size, repeat), _median_rate(down, size, repeat, before=clean)


def kubectl_rates(
    target: KubectlTarget, src: Path, workdir: Path, size: int, repeat: int
) -> tuple[float, float]:
    """(upload MB/s, download MB/s) with ``kubectl cp`` (tar in the container)."""
    local = workdir / "kubectl-down.bin"
    up = lambda: target.run("cp", "-c", CONTAINER, str(src), f"{POD}:{REMOTE}")  # noqa: E731
    down = lambda: target.run("cp", "-c", CONTAINER, f"{POD}:{REMOTE}", str(local))  # noqa: E731

    def clean() -> None:
        local.unlink(missing_ok=True)

    up_rate = _median_rate(up, size, repeat)
    down_rate = _median_rate(down, size, repeat, before=clean)
    assert local.stat().st_size == size
    return up_rate, down_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mb * 1000 * 1000
    workdir = Path(tempfile.mkdtemp(prefix="k8sterm-bench-transfer-"))
    src = workdir / "src.bin"
    make_file(src, size)
    try:
        with ExternalCluster() as cluster:
            kc = {"kubeconfig": cluster.kubeconfig, "context": cluster.context}
            target = KubectlTarget(kubeconfig=cluster.kubeconfig, namespace=NAMESPACE)
            try:
                target.run("get", "pods")  # warm kubectl's discovery cache
                k8sterm_widget.exec(POD, "true", NAMESPACE, **kc)  # warm imports and kubeconfig resolution
                run = lambda **options: k8sterm_rates(kc, src, workdir, size, args.repeat, **options)  # noqa: E731
                figures = {
                    "kubectl cp": kubectl_rates(target, src, workdir, size, args.repeat),
                    "k8sterm tar (default: not checked)": run(method="tar"),
                    "k8sterm tar, verify=True": run(method="tar", verify=True),
                    "k8sterm without tar: cat (default: sha256 checked)": run(method="cat"),
                    "k8sterm without tar: cat, verify=False": run(method="cat", verify=False),
                    "k8sterm without tar: base64 (default: checked)": run(method="base64"),
                }
            finally:
                shutil.rmtree(target.home, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base_up, base_down = figures["kubectl cp"]
    print(
        f"{time.strftime('%Y-%m-%d')}, {args.size_mb} MB of random bytes, demo cluster in its own process, "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    rows = [("way", "upload MB/s", "vs kubectl cp", "download MB/s", "vs kubectl cp")]
    for way, (up, down) in figures.items():
        rows.append((way, f"{up:.0f}", f"{up / base_up:.2f}x", f"{down:.0f}", f"{down / base_down:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"median of {args.repeat}")
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
