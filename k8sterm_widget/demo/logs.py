"""``pods/log``: a container's output, as ``kubectl logs`` and a pod browser's log pane read it.

The output is the runtime's record of the main process (:meth:`Container.log_chunks`, the last MiB,
stdout and stderr interleaved as a container runtime's log file has them, each chunk with the time it was
written).  Options as the apiserver validates them and the kubelet applies them: ``container`` (chosen and
refused like exec), ``sinceSeconds``/``sinceTime``, then ``tailLines``, then ``limitBytes``;
``timestamps`` (RFC 3339 with nanoseconds before each line), ``previous`` (the run before a restart) and
``follow`` (then the output streams on until the container ends or the client leaves).  A pod without a
node has no logs (an empty 200); a container that has not started is the kubelet's 400
(``container "c" in pod "p" is waiting to start: ContainerCreating``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from . import exec_ws
from . import status as st
from .context import CTX, respond_status, response_headers

Line = tuple[int, bytes]  # (ns since the epoch at which the line was written, the line with its newline)


def lines(chunks: Iterable[Line]) -> list[Line]:
    """Chunks cut into lines, each stamped with the time of the chunk it started in."""
    out: list[Line] = []
    open_line = False
    for stamp, chunk in chunks:
        for piece in re.split(b"(?<=\n)", chunk):
            if not piece:
                continue
            if open_line:
                out[-1] = (out[-1][0], out[-1][1] + piece)
            else:
                out.append((stamp, piece))
            open_line = not piece.endswith(b"\n")
    return out


def rfc3339nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: nanoseconds with trailing zeros dropped."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


class _Options:
    """``PodLogOptions`` from the query, validated like ``ValidatePodLogOptions``."""

    def __init__(self, name: str, query: Any) -> None:
        self.refusal: st.Status | None = None
        errors: list[st.FieldError] = []
        ints: dict[str, int | None] = {}
        for option in ("tailLines", "limitBytes", "sinceSeconds"):
            raw = query.get(option)
            ints[option] = None
            if raw is not None:
                try:
                    ints[option] = int(raw)
                except ValueError:
                    self.refusal = st.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
                    return
        self.tail, self.limit, since_seconds = ints["tailLines"], ints["limitBytes"], ints["sinceSeconds"]
        self.since_ns: int | None = None
        if "sinceTime" in query:
            try:
                when = datetime.fromisoformat(query["sinceTime"].replace("z", "Z"))
                if when.tzinfo is None:
                    raise ValueError
            except ValueError:
                self.refusal = st.bad_request(
                    f'parsing time "{query["sinceTime"]}" as "2006-01-02T15:04:05Z07:00": cannot parse'
                )
                return
            self.since_ns = int(when.astimezone(timezone.utc).timestamp()) * 1_000_000_000
        if self.tail is not None and self.tail < 0:
            errors.append(
                st.FieldError(
                    "tailLines", st.INVALID, f"Invalid value: {self.tail}: must be greater than or equal to 0"
                )
            )
        if self.limit is not None and self.limit < 1:
            errors.append(
                st.FieldError(
                    "limitBytes", st.INVALID, f"Invalid value: {self.limit}: must be greater than 0"
                )
            )
        if since_seconds is not None and self.since_ns is not None:
            errors.append(
                st.FieldError(
                    "",
                    st.FORBIDDEN,
                    "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                )
            )
        elif since_seconds is not None and since_seconds < 1:
            errors.append(
                st.FieldError(
                    "sinceSeconds", st.INVALID, f"Invalid value: {since_seconds}: must be greater than 0"
                )
            )
        elif since_seconds is not None:
            self.since_ns = time.time_ns() - since_seconds * 1_000_000_000
        if errors:
            self.refusal = st.invalid("PodLogOptions", name, errors)
        self.timestamps = exec_ws.parse_bool(query.getall("timestamps", []))
        self.previous = exec_ws.parse_bool(query.getall("previous", []))
        self.follow = exec_ws.parse_bool(query.getall("follow", [])) and not self.previous

    def render(self, line: Line) -> bytes:
        return (rfc3339nano(line[0]).encode() + b" " + line[1]) if self.timestamps else line[1]


class _Stamper:
    """Output as it streams in, with the time before each line when asked (a line may span chunks)."""

    def __init__(self, timestamps: bool, at_line_start: bool) -> None:
        self.timestamps = timestamps
        self.at_line_start = at_line_start

    def feed(self, stamp: int, chunk: bytes) -> bytes:
        if not self.timestamps:
            return chunk
        out = []
        for piece in re.split(b"(?<=\n)", chunk):
            if piece:
                if self.at_line_start:
                    out.append(rfc3339nano(stamp).encode() + b" ")
                out.append(piece)
                self.at_line_start = piece.endswith(b"\n")
        return b"".join(out)


async def get_log(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    opts = _Options(name, request.query)
    if opts.refusal is not None:
        return respond_status(opts.refusal)
    pod = ctx.store.pod(ns, name)
    if pod is None:
        return respond_status(st.not_found("pods", name))
    container, problem = exec_ws.pick_container(pod, request.query.get("container", ""))
    if problem is not None or container is None:
        return respond_status(problem or st.bad_request("no container"))
    if not pod["spec"].get("nodeName"):
        return web.Response(body=b"", content_type="text/plain", headers=response_headers())
    await ctx.node.replayed(ns, name, container)
    source, refusal = ctx.node.log_source(ns, name, container, opts.previous)
    if refusal:
        return respond_status(st.bad_request(refusal))
    selected = lines(source.log_chunks()) if source is not None else []
    if opts.since_ns is not None:
        selected = [line for line in selected if line[0] >= opts.since_ns]
    if opts.tail is not None:
        selected = selected[len(selected) - opts.tail :] if opts.tail else []
    data = b"".join(opts.render(line) for line in selected)
    if opts.limit is not None and len(data) >= opts.limit:
        return web.Response(body=data[: opts.limit], content_type="text/plain", headers=response_headers())
    if not opts.follow or source is None:
        return web.Response(body=data, content_type="text/plain", headers=response_headers())
    at_line_start = not selected or selected[-1][1].endswith(b"\n")
    return await _follow(request, source, data, opts.limit, _Stamper(opts.timestamps, at_line_start))


async def _follow(
    request: web.Request, source: Any, data: bytes, limit: int | None, stamper: _Stamper
) -> web.StreamResponse:
    """Stream ``data``, then the container's output as it comes, until it ends, the limit, or the client."""
    from .runtime.errors import ContainerNotRunning

    response = web.StreamResponse(headers={**response_headers(), "Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    try:
        attached = await source.attach(stdin=False, stdout=True, stderr=True, tty=False)
    except ContainerNotRunning:
        attached = None
    try:
        await response.prepare(request)
        sent = 0
        while True:
            if data:
                data = data if limit is None else data[: limit - sent]
                await response.write(data)
                sent += len(data)
            if (limit is not None and sent >= limit) or attached is None:
                break
            item = await attached.read()
            if item is None:
                break
            data = stamper.feed(time.time_ns(), item[1])
        await response.write_eof()
    except ConnectionError:
        pass
    finally:
        if attached is not None:
            await attached.kill()  # detaches; never stops the container
    return response
