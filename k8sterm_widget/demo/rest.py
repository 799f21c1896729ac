"""The REST verbs over HTTP, once for every kind: what kube-apiserver's ``endpoints/handlers`` do.

One handler serves every ``/api/v1/…`` and ``/apis/<group>/<version>/…`` path the specific subresource
handlers (exec, attach, log, ephemeral containers, reviews) leave over.  It decodes the body (JSON or YAML;
against the kind's OpenAPI type, honouring ``fieldValidation``), runs the verb through :class:`~.verbs.Api`
(``dryRun=All`` included), and encodes the answer as the object, a list, a ``Table`` (``kubectl get``), a
watch stream, or the apiserver's ``Status``.  Lists and watches take label and field selectors, ``limit``
and ``continue``, ``resourceVersion`` (a watch from a resourceVersion older than the kept history ends with
410 Expired), bookmarks and ``sendInitialEvents``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import apply as applies
from . import patch as patches
from . import protobuf, schema, tables, validation
from . import status as st
from .context import CTX, INFO, respond_json, respond_status, response_headers
from .registry import Kind
from .selectors import SelectorError, match_fields, match_labels, parse_fields, parse_labels
from .store import TooOld
from .verbs import ApiError

Obj = dict[str, Any]
BOOKMARK_INTERVAL = 60.0
DEFAULT_WATCH_TIMEOUT = 1800.0
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_BODY_TYPES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]


def _truthy(values: list[str]) -> bool:
    return any(v.lower() in ("1", "true", "t") for v in values)


# --- request decoding ------------------------------------------------------------------------------


def _media(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


async def _body(request: web.Request, kind: Kind) -> Any:
    raw = await request.read()
    media = _media(request)
    if media == "application/vnd.kubernetes.protobuf":
        try:
            return protobuf.decode_object(raw)
        except (protobuf.ProtobufError, ValueError, IndexError) as exc:
            raise ApiError(
                st.bad_request(
                    f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: {exc}'
                )
            ) from None
    if media in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
        try:
            return yaml.safe_load(raw.decode()) if raw.strip() else None
        except UnicodeDecodeError:
            problem = "error converting YAML to JSON: yaml: invalid leading UTF-8 octet"
        except RecursionError:
            problem = "error converting YAML to JSON: yaml: exceeded max depth of 10000"
        except yaml.YAMLError as exc:
            problem = f"error converting YAML to JSON: {go_yaml_error(exc)}"
        raise ApiError(st.bad_request(_unrecognized(kind, problem, raw))) from None
    try:
        # Go's decoder keeps a string with invalid UTF-8, each bad byte becoming U+FFFD
        return json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        problem = f"couldn't get version/kind; json parse error: {go_json_error(exc, raw)}"
        raise ApiError(st.bad_request(_unrecognized(kind, problem, raw))) from None


def _unrecognized(kind: Kind, problem: str, raw: bytes) -> str:
    """``transformDecodeError`` when the body's kind could not even be read (``SimpleMetaFactory.Interpret``
    failed): the error and ``summarizeData(body, 30)``."""
    if not raw:
        summary = "<empty>"
    elif raw[:1] == b"{":
        summary = raw[:30].decode("utf-8", "replace") + (" ..." if len(raw) > 30 else "")
    else:
        summary = raw[:30].hex() + (" ..." if len(raw) > 30 else "")
    return f"the object provided is unrecognized (must be of type {kind.kind}): {problem} ({summary})"


def _go_char(c: str) -> str:
    """encoding/json's ``quoteChar``."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    return "'" + json.dumps(c)[1:-1] + "'"


# Python's json messages and the context Go's scanner names for the same place
_GO_JSON_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Extra data": "after top-level value",
    "Invalid control character at": "in string literal",
    "Invalid \\escape": "in string escape code",
}


def go_json_error(exc: Exception, raw: bytes) -> str:
    """The ``SyntaxError`` text encoding/json gives for the same input (its scanner's words)."""
    if isinstance(exc, RecursionError):
        return (
            "invalid character '[' exceeded max depth"
            if b"[[[" in raw
            else "invalid character '{' exceeded max depth"
        )
    if not isinstance(exc, json.JSONDecodeError):
        return str(exc)
    doc, pos = exc.doc, exc.pos
    if exc.msg.startswith("Unterminated string") or not doc[pos:].strip():
        return "unexpected end of JSON input"
    char = doc[pos]
    if exc.msg == "Expecting ',' delimiter":
        opener = _innermost_open(doc, pos)
        context = "after object key:value pair" if opener == "{" else "after array element"
    else:
        context = _GO_JSON_CONTEXT.get(exc.msg, "looking for beginning of value")
    return f"invalid character {_go_char(char)} {context}"


def _innermost_open(doc: str, pos: int) -> str:
    """Whether ``pos`` is inside an object or an array (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_yaml_error(exc: yaml.YAMLError) -> str:
    """go-yaml's one line for a libyaml error: ``yaml: line N: <problem>`` (a parser error counts lines from
    0, a scanner error from 1, as go-yaml's ``yaml_PARSER_ERROR`` handling does)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return f"yaml: {problem}"
    line = mark.line + (1 if isinstance(exc, yaml.scanner.ScannerError) else 0)
    return f"yaml: line {line}: {problem}"


class UndecodableBody(ApiError):
    """A body of the wrong JSON types or with unknown fields; ``problem`` is the decoder's own words."""

    def __init__(self, status: st.Status, problem: str, unknown: list[str] | None = None) -> None:
        super().__init__(status)
        self.problem = problem
        self.unknown = unknown or []


def _validation_mode(request: web.Request) -> str:
    mode = request.query.get("fieldValidation", "")
    if mode and mode not in ("Ignore", "Warn", "Strict"):
        raise ApiError(
            st.bad_request(
                f"fieldValidation parameter unsupported: {mode}. Allowed values: Ignore, Warn, Strict"
            )
        )
    return mode or "Warn"


def decode_object(
    kind: Kind, body: Any, mode: str, warnings: list[str], *, unstructured: bool = False
) -> Obj:
    """The body as the apiserver's decoder leaves it: unknown fields reported per ``fieldValidation`` and
    dropped, nulls dropped, wrong JSON types refused with ``encoding/json``'s message."""
    target = f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}'
    if not isinstance(body, dict):
        shown = "null" if body is None else type(body).__name__
        go_type = (
            'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
            'Kind string "json:\\"kind,omitempty\\"" }'
        )
        raise ApiError(
            st.bad_request(
                f"{target}: json: cannot unmarshal {_json_kind(body) or shown} into Go value of type "
                f"{go_type}"
            )
        )
    sent_kind = body.get("kind")
    if sent_kind not in (None, "", kind.kind):
        raise ApiError(
            st.bad_request(
                f"the API version in the data ({body.get('apiVersion', '')}) does not match the expected API "
                f"version ({kind.api_version})"
                if body.get("apiVersion") not in (None, "", kind.api_version)
                else f'{target}: no kind "{sent_kind}" is registered for version "{kind.api_version}" in '
                f'scheme "k8s.io/apimachinery@v1.37.1-k8s/pkg/runtime/scheme.go:110"'
            )
        )
    if body.get("apiVersion") not in (None, "", kind.api_version):
        raise ApiError(
            st.bad_request(
                f"the API version in the data ({body['apiVersion']}) does not match the expected API version "
                f"({kind.api_version})"
            )
        )
    try:
        definition = schema.definition_for(kind.group, kind.version, kind.kind)
    except schema.SchemaUnavailable:
        return body
    if definition is None:
        return body
    decoded = schema.decode(body, definition, unstructured=unstructured)
    if decoded.error:
        raise UndecodableBody(st.bad_request(f"{target}: {decoded.error}"), decoded.error)
    unknown = [u for u in decoded.unknown if u not in ("metadata.managedFields",)]
    if unknown and mode == "Strict":
        items = ", ".join(f'unknown field "{u}"' for u in unknown)
        problem = f"strict decoding error: {items}"
        raise UndecodableBody(st.bad_request(f"{target}: {problem}"), problem, unknown)
    if unknown and mode == "Warn":
        warnings += [f'unknown field "{u}"' for u in unknown]
    return decoded.obj


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return ""


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise ApiError(
                st.invalid(
                    "",
                    "",
                    [
                        st.FieldError(
                            "dryRun",
                            "FieldValueNotSupported",
                            f'Unsupported value: "{value}": supported values: "All"',
                        )
                    ],
                )
            )
    return bool(values)


def _manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0] if agent else "unknown"


def warning_header(text: str) -> str:
    """``net.NewWarningHeader(299, "-", text)``: the text a quoted-string, its quotes and backslashes
    escaped — unescaped, kubectl cannot parse the header and shows no warning at all."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def _respond(obj: Any, status: int, warnings: list[str] | None = None) -> web.Response:
    response = respond_json(obj, status)
    for w in warnings or []:
        response.headers.add("Warning", warning_header(w))
    return response


# --- list and watch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListOptions:
    labels: list[Any]
    fields: list[Any]
    limit: int
    start_after: str
    watch: bool
    resource_version: str
    timeout: float
    bookmarks: bool
    initial_events: bool


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SelectorError(f"{name}: Invalid value: {value!r}: must be an integer") from None


def list_options(request: web.Request, kind: Kind) -> ListOptions:
    q = request.query
    start = ""
    token = q.get("continue", "")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
            start = str(decoded["start"])
        except (ValueError, KeyError, TypeError):
            raise SelectorError(f"continue key is not valid: illegal base64 data: {token!r}") from None
    # timeoutSeconds=0 is "no timeout of my own" (the apiserver then picks its random 30-60 min), not
    # "end at once", which would make a client that passes 0 re-watch in a tight loop.
    timeout = _int(q.get("timeoutSeconds") or "0", "timeoutSeconds")
    return ListOptions(
        labels=parse_labels(q.get("labelSelector", "")),
        fields=parse_fields(
            q.get("fieldSelector", ""), set(kind.field_selectors) or {"metadata.name", "metadata.namespace"}
        ),
        limit=max(_int(q.get("limit", "0") or "0", "limit"), 0),
        start_after=start,
        watch=_truthy(q.getall("watch", [])),
        resource_version=q.get("resourceVersion", ""),
        timeout=float(timeout) if timeout > 0 else DEFAULT_WATCH_TIMEOUT * (1 + random.random()),
        bookmarks=_truthy(q.getall("allowWatchBookmarks", [])),
        initial_events=_truthy(q.getall("sendInitialEvents", [])),
    )


def _field_value(kind: Kind, obj: Obj, name: str) -> str:
    get = kind.field_selectors.get(name)
    if get is not None:
        return str(get(obj))
    meta = obj["metadata"]
    return str(meta.get(name.partition(".")[2], "")) if name.startswith("metadata.") else ""


def _matches(kind: Kind, obj: Obj, opts: ListOptions) -> bool:
    if opts.labels and not match_labels(opts.labels, obj["metadata"].get("labels")):
        return False
    return not opts.fields or match_fields(opts.fields, lambda f: _field_value(kind, obj, f))


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _list_prefix(kind: Kind, namespace: str | None) -> str:
    """The store-key prefix of a list (etcd's ``/registry/pods/<ns>/``): continue keys are relative to it."""
    if namespace is not None:
        return f"{namespace}/"
    return "" if kind.namespaced else "/"


def _continue_token(last: Obj, rv: int, prefix: str) -> str:
    """etcd3's ``encodeContinue``: the key after the last one listed, relative to the list's prefix."""
    start = _key(last)[len(prefix) :] + "\x00"
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata")
    return value if value in ("None", "Metadata", "Object") else "Metadata"


async def list_or_watch(request: web.Request, kind: Kind, namespace: str | None) -> web.StreamResponse:
    store = request.app[CTX].store
    try:
        opts = list_options(request, kind)
    except SelectorError as exc:
        return respond_status(st.bad_request(str(exc)))
    if opts.watch:
        return await watch(request, kind, namespace, opts)
    rv = store.resource_version
    filtered = bool(opts.labels or opts.fields)
    prefix = _list_prefix(kind, namespace)
    start = prefix + opts.start_after if opts.start_after else ""
    # a page is a bisection to its first key and then `limit` objects (etcd's range read), not a scan
    if filtered:
        matching = (o for o in store.list(kind.key, namespace, start=start) if _matches(kind, o, opts))
        items = list(itertools.islice(matching, opts.limit + 1) if opts.limit else matching)
    else:
        items = store.list(kind.key, namespace, start=start, limit=opts.limit + 1 if opts.limit else 0)
    token, remaining = "", None
    if opts.limit and len(items) > opts.limit:
        items = items[: opts.limit]
        token = _continue_token(items[-1], rv, prefix)
        # ListMeta: "If the list request contained label or field selectors, then the number of remaining
        # items is unknown and the field will be left unset" (etcd3 store's GetList: only if pred.Empty())
        if not filtered:
            remaining = store.count(kind.key, namespace, start=_key(items[-1]) + "\x00")
    version = tables.wants_table(request.headers.get("Accept", ""))
    if version:
        table = tables.table_bytes(
            kind,
            items,
            version=version,
            include_object=_include_object(request),
            resource_version=str(rv),
            continue_token=token,
            remaining=remaining,
        )
        return web.Response(body=table, content_type="application/json", headers=response_headers())
    metadata: Obj = {"resourceVersion": str(rv)}
    if token:
        metadata["continue"] = token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
    body = {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": metadata, "items": items}
    return web.Response(body=_encode_list(body), content_type="application/json", headers=response_headers())


def _encode_list(body: Obj) -> bytes:
    """A list without each item's ``kind``/``apiVersion`` (Go's list items carry none), encoded once."""
    items = body["items"]
    head = st.encode({k: v for k, v in body.items() if k != "items"})[:-2]  # drop "}\n"
    parts = [tables.encoded(o, strip_type=True) for o in items]
    return head + b',"items":[' + b",".join(parts) + b"]}\n"


def _bookmark(kind: Kind, rv: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    body: Obj = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta}
    if kind.kind == "Pod":
        body["spec"] = {"containers": None}
        body["status"] = {}
    elif kind.has_status:
        body["spec"] = {}
        body["status"] = {}
    return {"type": "BOOKMARK", "object": body}


async def watch(
    request: web.Request, kind: Kind, namespace: str | None, opts: ListOptions
) -> web.StreamResponse:
    """A JSON watch stream (one event per line) until ``timeoutSeconds``, the client leaves or we stop."""
    store = request.app[CTX].store
    table_version = tables.wants_table(request.headers.get("Accept", ""))
    rv_text = opts.resource_version
    since: int | None = None
    if rv_text not in ("", "0"):
        try:
            since = int(rv_text)
        except ValueError:
            return respond_status(
                st.bad_request(f"resourceVersion: Invalid value: {rv_text!r}: must be an integer")
            )
    response = web.StreamResponse(
        status=200, headers={**response_headers(), "Content-Type": "application/json"}
    )
    response.enable_chunked_encoding()
    first_table = True
    include = _include_object(request)

    def render(event_type: str, obj: Obj) -> bytes:
        nonlocal first_table
        if table_version:
            rendered = tables.table(
                kind,
                [obj],
                version=table_version,
                include_object=include,
                resource_version=obj["metadata"]["resourceVersion"],
                headers=first_table,
            )
            first_table = False
            return st.encode({"type": event_type, "object": rendered})
        return st.encode({"type": event_type, "object": obj})

    try:
        watcher, backlog = store.watch(kind.key, namespace, since)
    except TooOld as exc:
        await response.prepare(request)
        await response.write(st.encode({"type": "ERROR", "object": st.gone(str(exc))}))
        await response.write_eof()
        return response
    # The state the watch starts from is taken together with the registration: a change made while the
    # response is being prepared then arrives once, as an event after it, and never twice.
    sent_rv = store.resource_version
    current = store.list(kind.key, namespace) if since is None else []
    try:
        await response.prepare(request)
        if since is None:
            chunk = [render("ADDED", o) for o in current if _matches(kind, o, opts)]
            if chunk:
                await response.write(b"".join(chunk))
            if opts.initial_events and opts.bookmarks:
                await response.write(st.encode(_bookmark(kind, sent_rv, initial_end=True)))
        pending = [render(e.type, e.obj) for e in backlog if _matches(kind, e.obj, opts)]
        if pending:
            await response.write(b"".join(pending))
        deadline = time.monotonic() + opts.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                event = await watcher.next(min(remaining, BOOKMARK_INTERVAL))
            except asyncio.TimeoutError:
                if opts.bookmarks and deadline - time.monotonic() > 0:
                    await response.write(st.encode(_bookmark(kind, store.resource_version)))
                continue
            if event is None:
                break
            batch, ended = [event], False
            for more in watcher.drain():  # write what queued up meanwhile in one go
                if more is None:
                    ended = True
                    break
                batch.append(more)
            out = [render(e.type, e.obj) for e in batch if _matches(kind, e.obj, opts)]
            if out:
                await response.write(b"".join(out))
            if ended:
                break
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        pass
    finally:
        store.unwatch(watcher)
    return response


# --- the verbs -------------------------------------------------------------------------------------


def _single(
    request: web.Request, kind: Kind, obj: Obj, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    version = tables.wants_table(request.headers.get("Accept", ""))
    if version:
        rv = obj["metadata"].get("resourceVersion", "")
        return _respond(
            tables.table(
                kind, [obj], version=version, include_object=_include_object(request), resource_version=rv
            ),
            status,
            warnings,
        )
    return _respond(obj, status, warnings)


async def create(request: web.Request, kind: Kind, namespace: str) -> web.Response:
    api = request.app[CTX].api
    warnings: list[str] = []
    body = decode_object(kind, await _body(request, kind), _validation_mode(request), warnings)
    obj = api.create(kind, body, namespace=namespace, dry_run=_dry_run(request), manager=_manager(request))
    return _single(request, kind, obj, 201, warnings)


async def replace(
    request: web.Request, kind: Kind, namespace: str, name: str, subresource: str = ""
) -> web.Response:
    api = request.app[CTX].api
    warnings: list[str] = []
    body = decode_object(kind, await _body(request, kind), _validation_mode(request), warnings)
    obj = api.update(
        kind,
        body,
        namespace=namespace,
        name=name,
        subresource=subresource,
        dry_run=_dry_run(request),
        manager=_manager(request),
    )
    return _single(request, kind, obj, 200, warnings)


async def patch(
    request: web.Request, kind: Kind, namespace: str, name: str, subresource: str = ""
) -> web.Response:
    api = request.app[CTX].api
    media = _media(request)
    if media not in PATCH_TYPES:
        return respond_status(st.unsupported_media_type(list(PATCH_TYPES)))
    raw = await request.read()
    warnings: list[str] = []
    dry_run = _dry_run(request)
    mode = _validation_mode(request)
    if media == "application/apply-patch+yaml":
        try:
            applied = yaml.safe_load(raw.decode()) if raw.strip() else None
        except yaml.YAMLError as exc:
            problem = f"error converting YAML to JSON: {go_yaml_error(exc)}"
            raise ApiError(st.bad_request(f"error decoding YAML: {problem}")) from None
        except (UnicodeDecodeError, RecursionError):
            raise ApiError(st.bad_request("error decoding YAML: yaml: invalid document")) from None
        manager = request.query.get("fieldManager", "")
        force = _truthy(request.query.getall("force", []))
        obj, created = applies.server_side_apply(
            api,
            kind,
            namespace,
            name,
            applied,
            manager=manager,
            force=force,
            dry_run=dry_run,
            decode=lambda body: _decode_applied(kind, namespace, name, body, mode, warnings),
            subresource=subresource,
        )
        return _single(request, kind, obj, 201 if created else 200, warnings)
    try:
        document = json.loads(raw.decode("utf-8", "replace")) if raw.strip() else None
    except (ValueError, RecursionError) as exc:
        # patch.go: mergepatch.ErrBadJSONDoc, evanphx's ErrBadJSONPatch, or DecodePatch's json error
        if media == "application/strategic-merge-patch+json":
            raise ApiError(st.bad_request("invalid JSON document")) from None
        if media == "application/merge-patch+json":
            raise ApiError(st.bad_request("Invalid JSON Patch")) from None
        raise ApiError(st.bad_request(go_json_error(exc, raw))) from None
    current = api.get(kind, namespace, name)
    try:
        if media == "application/json-patch+json":
            patched = patches.json_patch(current, document)
        elif media == "application/merge-patch+json":
            patched = patches.merge_patch(current, document)
        else:
            patched = patches.strategic_merge(current, document, patches.schema_for(kind))
    except patches.PatchError as exc:
        raise ApiError(exc.status) from None
    except RecursionError:
        raise ApiError(st.bad_request("exceeded max depth")) from None
    try:
        body = decode_object(
            kind, patched, mode, warnings, unstructured=media == "application/strategic-merge-patch+json"
        )
    except UndecodableBody as exc:
        raise _undecodable_patch(exc, media, document, patched) from None
    meta = body.setdefault("metadata", {}) if isinstance(body, dict) else {}
    sent_rv = (document.get("metadata") or {}).get("resourceVersion") if isinstance(document, dict) else None
    meta["resourceVersion"] = sent_rv or current["metadata"]["resourceVersion"]
    obj = api.update(
        kind,
        body,
        namespace=namespace,
        name=name,
        subresource=subresource,
        dry_run=dry_run,
        manager=_manager(request),
    )
    return _single(request, kind, obj, 200, warnings)


def _decode_applied(kind: Kind, namespace: str, name: str, body: Obj, mode: str, warnings: list[str]) -> Obj:
    """The applied configuration is made a typed value before anything else (fieldmanager's
    ``ObjectToTyped``), whatever ``fieldValidation`` says: an unknown field is its 500, "field not declared
    in schema" (kubernetes/kubernetes#122480)."""
    try:
        decode_object(kind, body, "Strict", [])
    except UndecodableBody as exc:
        if exc.unknown:
            where = f"{namespace}/{name}; {kind.group}/{kind.version}, Kind={kind.kind}"
            path = applies.smd_path(body, applies.schema_of_kind(kind), exc.unknown[0])
            raise ApiError(
                st.server_error(
                    f"failed to create typed patch object ({where}): {path}: field not declared in schema"
                )
            ) from None
    return decode_object(kind, body, mode, warnings)


def _undecodable_patch(exc: UndecodableBody, media: str, document: Any, patched: Any) -> ApiError:
    """A patch whose result does not decode is a 422 naming the patch (``patch.go``): a strategic merge
    patch shows the patch as Go's ``%+v`` of the map, a JSON or merge patch the patched object's JSON."""
    if media == "application/strategic-merge-patch+json":
        shown = patches.go_v(document)
    else:
        shown = json.dumps(patched, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return ApiError(st.invalid("", "", [validation.invalid_value("patch", shown, exc.problem)]))


RETURNS_DELETED_OBJECT = {"Pod", "Service", "Namespace"}


async def delete(request: web.Request, kind: Kind, namespace: str, name: str) -> web.Response:
    api = request.app[CTX].api
    options = await _delete_options(request)
    obj, gone = api.delete(kind, namespace, name, options=options, dry_run=_dry_run(request))
    if not gone or kind.kind in RETURNS_DELETED_OBJECT:
        return _single(request, kind, obj, 200 if gone or kind.graceful else 202)
    return respond_json(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                **({"group": kind.group} if kind.group else {}),
                "kind": kind.resource,
                "uid": obj["metadata"].get("uid", ""),
            },
        }
    )


async def _delete_options(request: web.Request) -> Obj:
    options: Obj = {}
    raw = await request.read()
    if raw.startswith(protobuf.MAGIC):
        try:
            options.update(protobuf.decode_object(raw))
        except (protobuf.ProtobufError, ValueError, IndexError):
            raise ApiError(st.bad_request("the body of the request was in an unknown format")) from None
    elif raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            try:
                body = yaml.safe_load(raw.decode())
            except (yaml.YAMLError, UnicodeDecodeError):
                raise ApiError(st.bad_request("the body of the request was in an unknown format")) from None
        if isinstance(body, dict):
            options.update(body)
    q = request.query
    if "gracePeriodSeconds" in q:
        try:
            options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        except ValueError:
            raise ApiError(
                st.bad_request(f"gracePeriodSeconds: invalid value {q['gracePeriodSeconds']!r}")
            ) from None
    if "propagationPolicy" in q:
        options["propagationPolicy"] = q["propagationPolicy"]
    if "orphanDependents" in q:
        options["orphanDependents"] = _truthy([q["orphanDependents"]])
    return options


async def delete_collection(request: web.Request, kind: Kind, namespace: str | None) -> web.Response:
    """The generic registry's DeleteCollection: list what the selectors match, delete each as DELETE would,
    and answer with the list as it was read — the objects before their deletion, under the list's
    resourceVersion.  The first failure other than NotFound is the answer instead; what was deleted before
    it stays deleted (the apiserver's is not atomic either)."""
    api = request.app[CTX].api
    try:
        opts = list_options(request, kind)
    except SelectorError as exc:
        return respond_status(st.bad_request(str(exc)))
    options = await _delete_options(request)
    dry_run = _dry_run(request)
    rv = str(api.store.resource_version)
    listed = [obj for obj in api.store.list(kind.key, namespace) if _matches(kind, obj, opts)]
    for obj in listed:
        meta = obj["metadata"]
        try:
            api.delete(kind, meta.get("namespace", ""), meta["name"], options=options, dry_run=dry_run)
        except ApiError as exc:
            if exc.code != 404:  # gone meanwhile: what the apiserver's workers ignore
                raise
    body = {
        "kind": f"{kind.kind}List",
        "apiVersion": kind.api_version,
        "metadata": {"resourceVersion": rv},
        "items": listed,
    }
    return web.Response(body=_encode_list(body), content_type="application/json", headers=response_headers())


# --- dispatch --------------------------------------------------------------------------------------


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route a resource request (already authenticated and authorised) to its verb."""
    info = request[INFO]
    ctx = request.app[CTX]
    kind = ctx.api.registry.lookup(info.api_group, info.api_version, info.resource)
    if kind is None or not info.is_resource:
        return respond_status(st.no_such_resource())
    namespace = info.namespace if kind.namespaced else ""
    if kind.kind == "Namespace":
        namespace = ""
    if not kind.namespaced and info.namespace and kind.kind != "Namespace":
        return respond_status(st.no_such_resource())
    method = request.method
    sub = info.subresource
    name = info.name
    try:
        if sub:
            handler = ctx.subresources.get((kind.key, sub))
            if handler is not None:
                return await handler(request, kind, namespace, name)
            if sub not in kind.subresources or sub not in ("status",):
                return respond_status(st.no_such_resource())
            if method == "GET":
                return _single(request, kind, ctx.api.get(kind, namespace, name))
            if method == "PUT":
                return await replace(request, kind, namespace, name, "status")
            if method == "PATCH":
                return await patch(request, kind, namespace, name, "status")
            return respond_status(st.method_not_allowed())
        if not name:
            ns: str | None = namespace if kind.namespaced and namespace else None
            if method == "GET":
                if "list" not in kind.verbs:
                    return respond_status(st.method_not_allowed())
                return await list_or_watch(request, kind, ns)
            if method == "POST":
                if "create" not in kind.verbs:
                    return respond_status(st.method_not_allowed())
                handler = ctx.creators.get(kind.key)
                if handler is not None:
                    return await handler(request, kind, namespace)
                return await create(request, kind, namespace)
            if method == "DELETE" and "deletecollection" in kind.verbs:
                return await delete_collection(request, kind, ns)
            return respond_status(st.method_not_allowed())
        if method == "GET" and "get" in kind.verbs:
            if _truthy(request.query.getall("watch", [])):
                return await list_or_watch(request, kind, namespace or None)
            return _single(request, kind, ctx.api.get(kind, namespace, name))
        if method == "PUT" and "update" in kind.verbs:
            return await replace(request, kind, namespace, name)
        if method == "PATCH" and "patch" in kind.verbs:
            return await patch(request, kind, namespace, name)
        if method == "DELETE" and "delete" in kind.verbs:
            return await delete(request, kind, namespace, name)
        return respond_status(st.method_not_allowed())
    except ApiError as exc:
        return respond_status(exc.status)
