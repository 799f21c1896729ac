"""The runtime's side of ephemeral debug containers: ``run_container(share_pid_with=target)``.

A debug container joins its target's PID namespace (``ps`` shows the target's processes, ``/proc/1/root``
is the target's filesystem) but keeps its own root filesystem; ending it ends only its own processes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil
from test_runtime import (
    eventually,
    needs_namespaces,
    read_until,
    run,
    run_exec,
    runtime,
    start,
    unique_sleep,
    wait_gone,
)


def sleeps(duration: str) -> list[int]:
    """Host pids of exactly ``sleep <duration>`` (not of a shell or an init whose command line names it)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["cmdline"] == ["sleep", duration] and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
    return found


@needs_namespaces
def test_debug_container_shares_its_targets_processes(tmp_path: Path) -> None:
    async def main() -> None:
        async with runtime(tmp_path, "namespaces") as rt:
            target = await start(rt, "distroless", pod="app", name="app")
            debug = await start(
                rt, "busybox", pod="app", name="debugger", tty=True, stdin=True, share_pid_with=target
            )
            ps = (await run_exec(debug, ["ps"])).out.decode()
            # busybox ps (Debian's busybox-static has no TIME column; docker.io's busybox has one)
            assert "/app/server infinity" in ps and ps.startswith("PID   USER     ")
            assert (await run_exec(debug, ["ls", "/proc/1/root/app"])).out == b"server\n"
            assert (await run_exec(debug, ["ls", "/app"])).code != 0  # its own root: busybox's
            assert (await run_exec(debug, ["hostname"])).out == b"app\n"

            # Its pid 1 is not the namespace's init: its processes must still end with it.
            shell = await debug.attach(stdin=True, stdout=True, stderr=False, tty=True)
            duration = unique_sleep()
            await shell.write(f"sleep {duration} & echo bg-$((20+1))\n".encode())
            await read_until(shell, b"bg-21")
            left = await eventually(lambda: sleeps(duration))
            await shell.write(b"exit 3\n")
            assert await debug.wait() == 3
            assert wait_gone(left) == []
            assert target.running and (await run_exec(target, ["/app/server", "0"])).code == 0

    run(main())


@needs_namespaces
def test_stopping_a_debug_container_spares_its_target(tmp_path: Path) -> None:
    async def main() -> None:
        async with runtime(tmp_path, "namespaces") as rt:
            target = await start(rt, "nginx", pod="web", name="nginx")
            duration = unique_sleep()
            debug = await start(
                rt,
                "busybox",
                pod="web",
                name="debugger",
                command=["sh", "-c", f"sleep {duration} & sleep {duration}"],
                share_pid_with=target,
            )
            left = await eventually(lambda: len(found := sleeps(duration)) == 2 and found)
            seen = (await run_exec(target, ["ps", "-eo", "args"])).out.decode()
            assert seen.splitlines().count(f"sleep {duration}") == 2  # the target sees them too
            await debug.stop()
            assert wait_gone(left) == [] and target.running
            assert (await run_exec(target, ["true"])).code == 0

    run(main())


def test_share_pid_with_is_ignored_without_namespaces(tmp_path: Path) -> None:
    async def main() -> None:
        async with runtime(tmp_path, "process") as rt:
            target = await start(rt, "distroless", pod="app", name="app")
            # busybox's default command (sh, no tty) would exit at once and end the container under the exec.
            debug = await start(
                rt,
                "busybox",
                pod="app",
                name="debugger",
                command=["sleep", "infinity"],
                share_pid_with=target,
            )
            assert (await run_exec(debug, ["echo", "ok"])).out == b"ok\n"

    run(main())
