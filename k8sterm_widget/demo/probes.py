"""The kubelet's prober: startup, readiness and liveness probes (exec, httpGet, tcpSocket, grpc-less).

Timing and thresholds are the API's (``initialDelaySeconds``, ``periodSeconds``, ``timeoutSeconds``,
``successThreshold``, ``failureThreshold``).  A startup probe gates the others and sets ``started``;
readiness sets ``ready`` (and with it the pod's Ready condition and its Service endpoints); liveness (and a
failed startup) restarts the container: ``Unhealthy`` events carry the prober's output (``Readiness probe
failed: HTTP probe failed with statuscode: 503``), then ``Killing`` says ``Container app failed liveness
probe, will be restarted``.  HTTP and TCP probes connect to the pod's address as the node sees it
(:meth:`Node.probe_host`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

Obj = dict[str, Any]


async def _exec(handle: Any, argv: list[str], timeout: float) -> tuple[bool, str]:
    try:
        proc = await handle.exec(list(argv), tty=False, stdin=False, stdout=True, stderr=True)
    except Exception as exc:  # the command is not in the image, the container is gone
        return False, getattr(exc, "message", str(exc))
    out = bytearray()

    async def collect() -> int:
        while True:
            item = await proc.read()
            if item is None:
                break
            out.extend(item[1])
        return await proc.wait()

    try:
        code = await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(Exception):
            await proc.kill()
        return False, f"command {argv!r} timed out"
    return code == 0, out.decode(errors="replace").strip()


async def _tcp(node: Any, host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(node.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError:
        return False, f"dial tcp {host}:{port}: connect: connection refused"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def _http(node: Any, host: str, port: int, probe: Obj, timeout: float) -> tuple[bool, str]:
    path = probe.get("path", "/") or "/"
    scheme = str(probe.get("scheme", "HTTP")).lower()
    headers = "".join(f"{h.get('name')}: {h.get('value')}\r\n" for h in probe.get("httpHeaders") or [])
    host_header = probe.get("host") or host
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}:{port}\r\nUser-Agent: kube-probe/1.37\r\n"
        f"Accept: */*\r\n{headers}Connection: close\r\n\r\n"
    ).encode()
    try:
        ssl = None
        if scheme == "https":
            import ssl as ssl_mod

            ssl = ssl_mod.create_default_context()
            ssl.check_hostname = False
            ssl.verify_mode = ssl_mod.CERT_NONE
        reader, writer = await asyncio.wait_for(
            node.open_connection(probe.get("host") or host, port, ssl=ssl), timeout
        )
    except asyncio.TimeoutError:
        return False, f'Get "{scheme}://{host}:{port}{path}": context deadline exceeded'
    except OSError:
        return (
            False,
            f'Get "{scheme}://{host}:{port}{path}": dial tcp {host}:{port}: connect: connection refused',
        )
    try:
        writer.write(request)
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (asyncio.TimeoutError, OSError):
        return False, f'Get "{scheme}://{host}:{port}{path}": context deadline exceeded'
    finally:
        writer.close()
    try:
        code = int(line.split()[1])
    except (IndexError, ValueError):
        return False, f'Get "{scheme}://{host}:{port}{path}": malformed HTTP response'
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


def _port(value: Any, container: Obj) -> int:
    if isinstance(value, int):
        return value
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p["containerPort"])
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


async def probe_once(node: Any, pod: Any, live: Any, handle: Any, probe: Obj) -> tuple[bool, str]:
    timeout = float(probe.get("timeoutSeconds", 1) or 1)
    container = live.raw or {}
    if "exec" in probe:
        return await _exec(handle, (probe["exec"] or {}).get("command") or [], timeout)
    host = node.probe_host(pod)
    if "httpGet" in probe:
        http = probe["httpGet"] or {}
        return await _http(node, host, _port(http.get("port"), container), http, timeout)
    if "tcpSocket" in probe:
        tcp = probe["tcpSocket"] or {}
        return await _tcp(node, tcp.get("host") or host, _port(tcp.get("port"), container), timeout)
    return True, ""


async def run_probes(node: Any, pod: Any, live: Any, handle: Any) -> None:
    """Drive the container's probes until it stops or the pod goes; restart on liveness failure."""
    raw = live.raw or {}
    startup, readiness, liveness = (
        raw.get("startupProbe"),
        raw.get("readinessProbe"),
        raw.get("livenessProbe"),
    )
    began = time.monotonic()
    state: dict[str, list[int]] = {
        "startup": [0, 0],
        "readiness": [0, 0],
        "liveness": [0, 0],
    }  # [ok, failed] runs
    due = {
        name: began + float((p or {}).get("initialDelaySeconds", 0) or 0)
        for name, p in (("startup", startup), ("readiness", readiness), ("liveness", liveness))
        if p
    }
    try:
        while live.handle is handle and not pod.killing:
            now = time.monotonic()
            for name in sorted(due, key=due.get):  # type: ignore[arg-type]
                if due[name] > now:
                    continue
                probe = {"startup": startup, "readiness": readiness, "liveness": liveness}[name]
                if probe is None:  # never: only the probes the pod has are due
                    continue
                if name != "startup" and startup and not live.started:
                    due[name] = now + 0.1
                    continue
                if name == "startup" and live.started:
                    del due[name]
                    continue
                ok, output = await probe_once(node, pod, live, handle, probe)
                if live.handle is not handle or pod.killing:
                    return
                due[name] = time.monotonic() + float(probe.get("periodSeconds", 10) or 10)
                counts = state[name]
                if ok:
                    counts[0], counts[1] = counts[0] + 1, 0
                else:
                    counts[0], counts[1] = 0, counts[1] + 1
                    node.probe_failed(pod, live, name, output)
                if name == "startup":
                    if ok:
                        live.started = True
                        live.ready = not readiness
                        node.probe_changed(pod)
                    elif counts[1] >= int(probe.get("failureThreshold", 3) or 3):
                        await node.probe_restart(pod, live, handle, "startup")
                        return
                elif name == "readiness":
                    if ok and counts[0] >= int(probe.get("successThreshold", 1) or 1) and not live.ready:
                        live.ready = True
                        node.probe_changed(pod)
                    elif not ok and counts[1] >= int(probe.get("failureThreshold", 3) or 3) and live.ready:
                        live.ready = False
                        node.probe_changed(pod)
                elif not ok and counts[1] >= int(probe.get("failureThreshold", 3) or 3):
                    await node.probe_restart(pod, live, handle, "liveness")
                    return
            if not due:
                return
            wait = max(min(due.values()) - time.monotonic(), 0.01)
            await asyncio.sleep(wait)
    except asyncio.CancelledError:
        return
