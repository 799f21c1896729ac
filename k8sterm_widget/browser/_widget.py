"""``PodBrowser``: pick a context, a namespace, a pod and a container, and get shells below, in tabs.

Layout (front end ``js/browse.js``): a toolbar (context, namespace, live state), the pod table (kubectl's
columns, live through :class:`.watcher.PodWatcher`), each pod expandable into its containers (kind,
state, a Shell/Debug/Attach button when that works), and a tab strip of terminals under it.

**Composition: anywidget's host.getWidget, not ipywidgets containers.** Each tab is a real
:class:`~k8sterm_widget.widget.Terminal`, referenced from the ``tabs`` trait as ``"anywidget:<model id>"``;
the browser's front end renders it into its own tab panel with ``host.getWidget(ref).render({el,
signal})`` and removes that view by aborting the signal when the tab closes. Both JupyterLab 4 and
Notebook 7 load widgets through the same ``@jupyter-widgets/jupyterlab-manager``, so this works the same
in both. An ``ipywidgets.Tab`` of terminals would also render there, but has no close buttons, cannot
show a tab's connection state, and would make ``browse()`` return a container rather than one widget
with one state; here the tab strip is ours and the whole browser is one object.

**Why it stops watching.** The watch runs while the browser is displayed somewhere: when the front end
reports that its last view went away (output cleared, notebook closed) and none comes back within
``IDLE_GRACE`` seconds, the watch stops; a new view starts it again. ``close()`` stops everything,
terminals included.

Synced state is names, states and counts (``rows.pod_row``): context *names*, never users, servers or
credentials; actions from the front end are validated like the terminal's protocol messages.
"""

from __future__ import annotations

import atexit
import html
import logging
import os
import re
import threading
import time
import uuid
import weakref
from typing import Any

import traitlets as t

from ..errors import K8stermError
from ..face import Face, display_with_face, frame
from ..frontend import SharedFrontEnd
from ..kube.config import Cluster, resolve
from ..recording.snapshot import CAPTION_STYLE
from ..widget import Terminal, debug
from ..widget.connect import DEBUG_IMAGE
from .rows import human_duration, pod_row
from .sources import context_names, namespaces
from .watcher import PodWatcher

try:  # the prefix anywidget's WidgetTrait uses on the wire; host.getWidget only accepts such refs
    from anywidget._descriptor import _WIDGET_REF_PREFIX as REF_PREFIX
except ImportError:  # pragma: no cover - a later anywidget moved it
    REF_PREFIX = "anywidget:"

log = logging.getLogger("k8sterm_widget.browse")

FLUSH_DELAY = 0.1  # seconds: a burst of watch events becomes one state update
IDLE_GRACE = 5.0
MAX_NAME = 253
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # RFC 1123 subdomain: pods, namespaces, containers
STATES = ("connecting", "live", "reconnecting", "failed", "paused", "stopped")

_live: weakref.WeakSet[PodBrowser] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for browser in list(_live):
        try:
            browser._stop_watch()
        except Exception:
            pass


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_NAME and _NAME.match(value) else None


class PodBrowser(SharedFrontEnd):
    """A live pod list with shells in tabs; see the module docstring. Make it the last expression of a cell.

    Python side: :meth:`shell` and :meth:`debug` add a terminal tab (and return the ``Terminal``),
    :meth:`switch` changes context or namespace, :attr:`terminals` lists the open tabs, :meth:`close`
    stops the watch and every terminal.
    """

    part = "browser"

    contexts = t.List(t.Unicode()).tag(sync=True)
    context = t.Unicode("").tag(sync=True)
    namespaces = t.List(t.Unicode()).tag(sync=True)
    namespace = t.Unicode("").tag(sync=True)
    namespace_note = t.Unicode("").tag(sync=True)
    pods = t.List(t.Dict()).tag(sync=True)
    state = t.Enum(STATES, default_value="connecting").tag(sync=True)
    state_detail = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    tabs = t.List(t.Dict()).tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    _uid = t.Unicode("").tag(sync=True)  # lets the front end count its views of this browser

    def __init__(
        self,
        namespace: str | None = None,
        *,
        context: str | None = None,
        kubeconfig: str | os.PathLike | None = None,
        **terminal_options: Any,
    ) -> None:
        super().__init__(_uid=uuid.uuid4().hex)
        self._kubeconfig = kubeconfig
        self._terminal_options = terminal_options
        self._lock = threading.RLock()
        self._cluster: Cluster | None = None
        self._watcher: PodWatcher | None = None
        self._terminals: dict[str, Terminal] = {}
        self._latest: dict[str, dict] | None = None
        self._flush_timer: threading.Timer | None = None
        self._views = 0
        self._idle_timer: threading.Timer | None = None
        self._face = Face(self._draw_face)  # the pod table as plain HTML, for readers without the widget
        shown = ["pods", "tabs", "state", "error", "namespace"]
        self.observe(lambda _change: self._face.changed(), names=shown)
        self.on_msg(self._on_msg)
        _live.add(self)
        self._background(self._setup, context, namespace)

    # ------------------------------------------------------------------ public API

    @property
    def terminals(self) -> list[Terminal]:
        """The terminals of the open tabs, in tab order."""
        with self._lock:
            return [self._terminals[tab["id"]] for tab in self.tabs if tab["id"] in self._terminals]

    def switch(self, *, context: str | None = None, namespace: str | None = None) -> None:
        """Show another context and/or namespace (the watch restarts; open tabs stay)."""
        self._background(self._setup, context or self.context or None, namespace, context is not None)

    def shell(self, pod: str, container: str | None = None) -> Terminal:
        """A shell in ``pod`` (``container`` defaults as in kubectl) in a new tab, now the current tab."""
        term = Terminal(
            pod,
            self.namespace or None,
            container,
            context=self.context or None,
            kubeconfig=self._kubeconfig,
            **self._terminal_options,
        )
        return self._add_tab(term, f"{pod} · {container}" if container else pod, "shell")

    def debug(
        self, pod: str, target: str | None = None, image: str | None = None, container_name: str | None = None
    ) -> Terminal:
        """A shell in a new debug container of ``pod`` in a tab (see :func:`k8sterm_widget.debug`)."""
        term = debug(
            pod,
            image or DEBUG_IMAGE,
            target,
            self.namespace or None,
            container_name,
            context=self.context or None,
            kubeconfig=self._kubeconfig,
            **self._terminal_options,
        )
        kind = "attach" if container_name else "debug"
        title = f"{pod} · {container_name}" if container_name else f"{pod} · debug"
        return self._add_tab(term, title, kind)

    def close_tab(self, terminal: Terminal | str) -> None:
        """Close a tab (a ``Terminal`` or its tab id) and end its session."""
        key = terminal if isinstance(terminal, str) else terminal._uid
        with self._lock:
            term = self._terminals.pop(key, None)
            tabs = [tab for tab in self.tabs if tab["id"] != key]
            selected = self.selected
            if selected == key:
                selected = tabs[-1]["id"] if tabs else ""
            self._set(tabs=tabs, selected=selected)
        if term is not None:
            threading.Thread(target=term.close, kwargs={"keep_view": False}, daemon=True).start()

    def close(self) -> None:
        """Stop the watch, end every terminal, and close the widget."""
        self._stop_watch()
        for term in list(getattr(self, "_terminals", {}).values()):
            try:
                term.close(keep_view=False)
            except Exception:
                pass
        if hasattr(self, "_terminals"):
            self._terminals.clear()
        _live.discard(self)
        super().close()

    def __repr__(self) -> str:
        where = f"{self.context}/{self.namespace}" if self.context else self.namespace
        return f"<k8sterm PodBrowser {where}: {len(self.pods)} pods, {len(self.tabs)} tabs, {self.state}>"

    # ------------------------------------------------------------------ display

    def _ipython_display_(self) -> None:
        """The live browser, then its static face: the pod table and the open tabs, as plain HTML."""
        display_with_face(self, f"k8sterm pod browser {self.namespace}", self._face)

    def _draw_face(self) -> tuple[str, str]:
        esc = html.escape
        where = " / ".join(x for x in (self.context, self.namespace) if x)
        caption = " · ".join(x for x in ("pods", where, self.error or self.state) if x)
        columns = ("NAME", "READY", "STATUS", "RESTARTS", "AGE")
        now = time.time()
        rows = [
            (p["name"], p["ready"], p["status"], str(p["restarts"]), _age(p.get("created", ""), now))
            for p in self.pods
        ]
        th = 'style="text-align:left;padding:1px 12px 1px 0;color:#757575;font-weight:normal"'
        td = 'style="text-align:left;padding:1px 12px 1px 0"'
        head = "".join(f"<th {th}>{c}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td {td}>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
        tabs = ", ".join(esc(tab.get("title", "")) for tab in self.tabs)
        table = (
            f'<div style="{CAPTION_STYLE}">{esc(caption)}</div>'
            f'<table style="border-collapse:collapse;font:13px monospace"><tr>{head}</tr>{body}</table>'
            + (f'<div style="{CAPTION_STYLE}">open shells: {tabs}</div>' if tabs else "")
        )
        width = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
        lines = [caption]
        for row in [columns, *rows]:
            lines.append("   ".join(v.ljust(w) for v, w in zip(row, width, strict=True)).rstrip())
        return frame("browser", self._uid, table), "\n".join(lines)

    # ------------------------------------------------------------------ setup and the watch

    def _background(self, target: Any, *args: Any) -> None:
        threading.Thread(target=target, args=args, name="k8sterm-browse", daemon=True).start()

    def _set(self, **traits: Any) -> None:
        with self._lock, self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)

    def _setup(self, context: str | None, namespace: str | None, context_changed: bool = False) -> None:
        try:
            names = context_names(self._kubeconfig)
            cluster = resolve(context=context, kubeconfig=self._kubeconfig)
            ns = namespace or (cluster.namespace if context_changed or not self.namespace else self.namespace)
            with self._lock:
                self._cluster = cluster
                self._set(contexts=names, context=cluster.context or "", namespace=ns, error="", pods=[])
            self._start_watch()
            found = namespaces(cluster, ns)
            if self._cluster is cluster:
                self._set(namespaces=found.names, namespace_note=found.note)
        except K8stermError as e:
            self._set(state="failed", state_detail="", error=str(e))
        except Exception as e:  # a bug: still one line
            log.exception("k8sterm: pod browser setup failed")
            self._set(state="failed", error=f"the pod browser could not start: {type(e).__name__}: {e}")

    def _start_watch(self) -> None:
        with self._lock:
            old, self._watcher = self._watcher, None
            cluster = self._cluster
            if cluster is None:
                return
            watcher = PodWatcher(
                cluster,
                self.namespace,
                on_pods=lambda pods: self._watched_pods(watcher, pods),
                on_state=lambda state, error: self._watch_state(watcher, state, error),
            )
            self._watcher = watcher
            self._set(state="connecting", state_detail="")
        if old is not None:
            old.stop(timeout=0)
        watcher.start()

    def _stop_watch(self) -> None:
        if not hasattr(self, "_lock"):  # __init__ failed half-way (ipywidgets calls close() from __del__)
            return
        with self._lock:
            watcher, self._watcher = self._watcher, None
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
        if watcher is not None:
            watcher.stop(timeout=0)

    def _watched_pods(self, watcher: PodWatcher, pods: dict[str, dict]) -> None:
        with self._lock:
            if watcher is not self._watcher:
                return
            self._latest = pods
            if self._flush_timer is None:
                self._flush_timer = threading.Timer(FLUSH_DELAY, self._flush)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._flush_timer = None
            pods, self._latest = self._latest, None
            if pods is None:
                return
            rows = [pod_row(pods[name]) for name in sorted(pods)]
            self._set(pods=rows)

    def _watch_state(self, watcher: PodWatcher, state: str, error: K8stermError | None) -> None:
        with self._lock:
            if watcher is not self._watcher:
                return
            if state == "failed":
                self._set(
                    state="failed",
                    state_detail=str(error) if error else "",
                    error=str(error) if error else "",
                )
            elif state == "reconnecting":
                self._set(state="reconnecting", state_detail=error.message if error else "")
            elif state == "live":
                self._set(state="live", state_detail="", error="" if self.state != "live" else self.error)
            elif state == "stopped" and self.state not in ("failed", "paused"):
                self._set(state="stopped", state_detail="")

    # ------------------------------------------------------------------ tabs

    def _add_tab(self, term: Terminal, title: str, kind: str) -> Terminal:
        key = term._uid
        with self._lock:
            self._terminals[key] = term
            tab = {"id": key, "ref": f"{REF_PREFIX}{term.model_id}", "title": title, "kind": kind}
            self._set(tabs=[*self.tabs, tab], selected=key)
        return term

    # ------------------------------------------------------------------ front-end messages

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Actions from the front end: validated, never raising; failures become the error line."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "open":
                pod, container = _name(content.get("pod")), _name(content.get("container"))
                if pod:
                    self.shell(pod, container)
            elif kind == "debug":
                pod, target = _name(content.get("pod")), _name(content.get("target"))
                if pod:
                    self.debug(pod, target)
            elif kind == "attach":
                pod, container = _name(content.get("pod")), _name(content.get("container"))
                if pod and container:
                    self.debug(pod, container_name=container)
            elif kind == "close":
                if isinstance(content.get("id"), str):
                    self.close_tab(content["id"])
            elif kind == "select":
                ctx, ns = content.get("context"), content.get("namespace")
                ctx = ctx if isinstance(ctx, str) and ctx in self.contexts else None
                ns = _name(ns) if ns else None
                if content.get("namespace") and ns is None:
                    self._set(error=f"{str(content.get('namespace'))[:80]!r} is not a valid namespace name")
                elif ctx is not None and ctx != self.context:
                    self.switch(context=ctx, namespace=ns)
                elif ns is not None and ns != self.namespace:
                    self._set(namespace=ns, pods=[], error="")
                    self._background(self._start_watch)
            elif kind == "refresh":
                self.switch(namespace=self.namespace or None)
            elif kind == "views":
                count = content.get("count")
                if type(count) is int and count >= 0:
                    self._views_changed(count)
        except K8stermError as e:
            self._set(error=str(e))
        except Exception as e:
            log.exception("k8sterm: pod browser action %r failed", kind)
            self._set(error=f"{kind} failed: {type(e).__name__}: {e}")

    def _views_changed(self, count: int) -> None:
        with self._lock:
            self._views = count
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if count == 0 and self._watcher is not None:
                self._idle_timer = threading.Timer(IDLE_GRACE, self._idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()
            elif count > 0 and self.state == "paused":
                self._background(self._start_watch)

    def _idle(self) -> None:
        with self._lock:
            self._idle_timer = None
            if self._views:
                return
        log.info("k8sterm: the pod browser is no longer shown; its watch stops")
        self._stop_watch()
        self._set(state="paused", state_detail="not shown anywhere")


def browse(
    namespace: str | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    **terminal_options: Any,
) -> PodBrowser:
    """A pod browser as a widget: make it the last expression of a cell.

    Shows the pods of ``namespace`` (default: the context's) live, with a context and namespace picker;
    click a pod, then a container's Shell button, and the shell opens in a tab below. ``terminal_options``
    are display traits for those terminals (``rows``, ``renderer`` …). Never raises for cluster problems:
    the widget shows them as one line.
    """
    return PodBrowser(namespace, context=context, kubeconfig=kubeconfig, **terminal_options)


__all__ = ["PodBrowser", "browse"]


def _age(created: str, now: float) -> str:
    """The AGE column from a creationTimestamp (RFC 3339, UTC), as kubectl prints it."""
    try:
        stamp = time.mktime(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return "<unknown>"
    return human_duration(now - stamp)
