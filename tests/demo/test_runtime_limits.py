"""What a container may take from the machine (``runtime/limits.py``, the node's disk in ``_node.py``).

A hostile process in a demo container must not be able to starve the notebook it runs beside: fill the
machine's memory through a tmpfs, fork without bound, outlive the notebook in the OOM killer's queue, pin
memory in System V IPC, or hand a core dump to the host. A real node bounds these with cgroups; these tests
prove the bounds the demo's node sets instead. Each runtime gets a small disk and pid budget, so the tests
stay cheap on a shared machine.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from k8sterm_widget.demo.controllers.base import node_capacity
from k8sterm_widget.demo.node import oom_score_adj
from k8sterm_widget.demo.runtime import Container, Runtime, images
from k8sterm_widget.demo.runtime.isolation import probe
from k8sterm_widget.demo.runtime.limits import IPC_SYSCTLS

_PROBE_DIR = Path(tempfile.mkdtemp(prefix="k8sterm-limits-probe-"))
ISOLATION = probe(_PROBE_DIR)
shutil.rmtree(_PROBE_DIR, ignore_errors=True)
needs_namespaces = pytest.mark.skipif(
    ISOLATION.mode != "namespaces", reason=f"no namespaces here: {ISOLATION.reason}"
)
MIB = 1 << 20


async def start(rt: Runtime, pod: str, image: str = "busybox", **kw) -> Container:
    found = images.lookup(image)
    assert found is not None
    return await rt.run_container(
        namespace="default", pod=pod, name="main", image=found, command=["sleep", "infinity"], **kw
    )


async def sh(container: Container, script: str) -> tuple[int, str]:
    process = await container.exec(["sh", "-c", script], tty=False, stdin=False, stdout=True, stderr=True)
    out = b""
    while (item := await process.read()) is not None:
        out += item[1]
    return await process.wait(), out.decode()


def run(coro, timeout: float = 60):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@needs_namespaces
def test_all_containers_share_one_bounded_node_disk(tmp_path: Path) -> None:
    """Before: each container's / and /usr/local were a tmpfs of half the machine's memory (12 GiB here)."""

    async def main() -> None:
        rt = Runtime(tmp_path / "state", isolation="namespaces", disk_size=64 * MIB)
        try:
            a, b = await start(rt, "a"), await start(rt, "b")
            code, out = await sh(a, "df -k / | tail -1")
            assert code == 0 and out.split()[1] == str(64 * 1024), out  # what `df` shows: the node's disk
            assert (await sh(a, "dd if=/dev/zero of=/big bs=1M count=40 2>&1"))[0] == 0
            # the other pod's container shares the disk: / , /dev and /dev/shm are full for it too
            for path in ("/big2", "/dev/big", "/dev/shm/big"):
                code, out = await sh(b, f"dd if=/dev/zero of={path} bs=1M count=40 2>&1")
                assert code != 0 and "No space left on device" in out, (path, out)
                await sh(b, f"rm -f {path}")
            py = await start(rt, "py", image="python:3.12")  # a Debian image: its /usr/local too
            code, out = await sh(py, "dd if=/dev/zero of=/usr/local/big bs=1M count=40 2>&1")
            assert code != 0 and "No space left on device" in out, out
            await py.stop()
            # a container that ends gives its space back
            await a.stop()
            for _ in range(100):
                code, out = await sh(b, "dd if=/dev/zero of=/big bs=1M count=40 2>&1; echo $?")
                if out.endswith("\n0\n"):
                    break
                await sh(b, "rm -f /big")
                await asyncio.sleep(0.05)
            assert out.endswith("\n0\n"), out
        finally:
            await rt.stop()

    run(main())


@needs_namespaces
def test_a_pod_can_start_only_so_many_processes(tmp_path: Path) -> None:
    """A fork bomb ends at the pod's limit (the kubelet's podPidsLimit) instead of taking the machine."""

    async def main() -> None:
        rt = Runtime(tmp_path / "state", isolation="namespaces", pids_limit=40)
        try:
            c = await start(rt, "bomb")
            code, out = await sh(c, "grep -E 'Max (processes|core file size)' /proc/self/limits")
            assert "Max processes             40                   40" in out, out
            assert "Max core file size        1                    1" in out, out  # no core reaches the host
            # a fork bomb (python: a shell gives up at its first failed fork) stops at the pod's limit
            bomb = (
                "import os, signal, time\n"
                "kids, err = [], ''\n"
                "while len(kids) < 60:\n"
                "    try:\n"
                "        pid = os.fork()\n"
                "    except OSError as exc:\n"
                "        err = exc.strerror; break\n"
                "    if pid == 0:\n"
                "        time.sleep(30); os._exit(0)\n"
                "    kids.append(pid)\n"
                "print(len(kids), err)\n"
                "for pid in kids: os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)\n"
            )
            py = await start(rt, "bomb-py", image="python:3.12")
            code, out = await sh(py, f'python3 -c "{bomb}"')
            assert code == 0, out
            started, _, err = out.strip().partition(" ")
            assert int(started) < 40 and err == "Resource temporarily unavailable", out
            assert (await sh(py, "true"))[0] == 0  # and the pod works again once they are gone
            _, out = await sh(c, "ulimit -u 100000 2>&1; ulimit -c unlimited 2>&1; echo $?")
            assert not out.endswith("\n0\n"), out  # raising a hard limit needs CAP_SYS_RESOURCE
        finally:
            await rt.stop()

    run(main())


@needs_namespaces
def test_container_processes_are_the_oom_killers_first_choice(tmp_path: Path) -> None:
    """The kubelet's score for a BestEffort container, for its main process and every exec, for good."""

    async def main() -> None:
        rt = Runtime(tmp_path / "state", isolation="namespaces")
        try:
            c = await start(rt, "oom")
            assert (await sh(c, "cat /proc/1/oom_score_adj /proc/self/oom_score_adj"))[1] == "1000\n1000\n"
            code, out = await sh(c, "echo -1 > /proc/self/oom_score_adj")  # below the server's: no
            assert code != 0 and "Permission denied" in out, out
            burstable = await start(rt, "burst", oom_score_adj=-997)  # never below the notebook's
            assert (await sh(burstable, "cat /proc/self/oom_score_adj"))[1] == "3\n"
        finally:
            await rt.stop()

    run(main())


def test_oom_score_adj_is_the_kubelets_per_qos_class() -> None:
    """pkg/kubelet/qos/policy.go GetContainerOOMScoreAdjust; the runtime then raises -997 to 3."""
    memory = node_capacity()[1]
    burstable = {"resources": {"requests": {"memory": str(memory // 10)}}}
    assert oom_score_adj({"status": {"qosClass": "BestEffort"}}, {}) == 1000
    assert oom_score_adj({"status": {"qosClass": "Guaranteed"}}, {}) == -997
    assert (
        oom_score_adj({"status": {"qosClass": "Burstable"}}, burstable)
        == 1000 - 1000 * (memory // 10) // memory
    )
    assert oom_score_adj({"status": {"qosClass": "Burstable"}}, {}) == 999  # never BestEffort's 1000
    huge = {"resources": {"requests": {"memory": str(memory * 2)}}}
    assert oom_score_adj({"status": {"qosClass": "Burstable"}}, huge) == 3


@needs_namespaces
def test_system_v_ipc_of_a_pod_is_bounded(tmp_path: Path) -> None:
    """The kernel's defaults let one IPC namespace pin nearly all memory; a pod's gets 64 MiB of shm."""

    async def main() -> None:
        rt = Runtime(tmp_path / "state", isolation="namespaces")
        try:
            c = await start(rt, "ipc")
            names = " ".join(f"/proc/sys/kernel/{name}" for name in IPC_SYSCTLS)
            code, out = await sh(c, f"cat {names}")
            assert code == 0 and out.split("\n")[:-1] == [
                v.replace(" ", "\t") for v in IPC_SYSCTLS.values()
            ], out
        finally:
            await rt.stop()

    run(main())
