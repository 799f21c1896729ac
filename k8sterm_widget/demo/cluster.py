"""``DemoCluster``: start and stop the whole demo cluster (API server, node agent, runtime) from Python.

The server runs its own asyncio loop in a background thread, so the same object works in a test, a script
and a notebook whose kernel already runs a loop.  ``start`` returns once the API answers and every pod has
started what it can; ``stop`` is idempotent and leaves no process behind.  A ``state_dir`` keeps the CA,
tokens, port and kubeconfig: a cluster restarted on it serves the same URL with the same credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from . import apiserver, bootstrap, kubeconfig, pki, rbac
from . import scenario as scenario_mod
from .auth import Authenticator
from .dns import ClusterDNS
from .node import Node
from .services import ServiceProxy
from .store import HISTORY, Store

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class DemoCluster:
    """A local cluster that kubectl, ``kubernetes`` and ``kubernetes_asyncio`` accept.

    ``scenario``: a path to a scenario YAML, a loaded :class:`~.scenario.Scenario`, or None for the built-in
    one.  ``port=0`` picks a free port (or the one a reused ``state_dir`` remembers).  ``state_dir=None``
    uses a temporary directory removed by :meth:`stop`.  ``isolation``: ``auto``, ``namespaces``, ``process``.
    ``watch_cache_size``: how many changes a watch may resume from (kube-apiserver's
    ``--default-watch-cache-size``); a watch from an older resourceVersion gets 410 Expired.
    """

    def __init__(
        self,
        scenario: str | Path | scenario_mod.Scenario | None = None,
        *,
        port: int = 0,
        state_dir: str | Path | None = None,
        isolation: str = "auto",
        watch_cache_size: int = HISTORY,
    ) -> None:
        self.scenario = (
            scenario if isinstance(scenario, scenario_mod.Scenario) else scenario_mod.load(scenario)
        )
        self._requested_port = port
        self._own_state = state_dir is None
        self.state_dir = (
            Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="k8sterm-demo-"))
        )
        self._isolation_request = isolation
        self._watch_cache_size = watch_cache_size
        self.port = 0
        self.isolation = ""
        #: One line on what demo containers lack on this machine ("" when nothing), printed at start.
        self.notice = ""
        self._tokens: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ctx: apiserver.ClusterContext | None = None
        self._runtime: Any = None
        self._node: Node | None = None
        self._controllers: list[Any] = []
        self._dns: ClusterDNS | None = None
        self._services: ServiceProxy | None = None
        self._started = False
        self._stopped = False
        self._lock = threading.Lock()

    # --- public properties ---------------------------------------------------------------------

    @property
    def kubeconfig(self) -> str:
        """Path of the kubeconfig (mode 0600) with contexts ``demo-admin`` (current) and ``demo-viewer``."""
        return str(self.state_dir / "kubeconfig")

    @property
    def context(self) -> str:
        return kubeconfig.context_name(self.scenario.current_user)

    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.state_dir / "ca.crt")

    def token(self, user: str) -> str:
        return self._tokens[user]

    def context_for(self, user: str) -> str:
        return kubeconfig.context_name(user)

    @property
    def dns_address(self) -> tuple[str, int] | None:
        """Where the cluster DNS answers (``<svc>.<ns>.svc.cluster.local``): host and UDP port."""
        return self._dns.address if self._dns is not None else None

    def service_address(self, cluster_ip: str, port: int) -> tuple[str, int] | None:
        """Where the service proxy listens for a Service's ``ClusterIP:port``: a port of the host's loopback
        without a pod network (pods share the host's); with one, the ClusterIP itself in the node's network
        namespace, which only pods reach."""
        return self._services.local.get((cluster_ip, port)) if self._services is not None else None

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DemoCluster {self.server} {state} isolation={self.isolation or '?'}>"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> DemoCluster:
        """Start the server thread; return when the API serves and the pods have started."""
        with self._lock:
            if self._started:
                return self
            self._started = True
            self._stopped = False
        ready: dict[str, Any] = {}
        done = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._astart())
            except BaseException as exc:
                ready["error"] = exc
                done.set()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(self._astop())
                loop.close()
                return
            done.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name="k8sterm-demo-cluster", daemon=True)
        self._thread.start()
        done.wait()
        if "error" in ready:
            self._thread.join(timeout=10)
            self._stopped = True
            self._cleanup_state()
            raise ready["error"]
        return self

    def stop(self) -> None:
        """Stop serving, end every exec session and kill every container process.  Idempotent."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._astop(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._cleanup_state()

    def __enter__(self) -> DemoCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten cluster must not keep processes alive
        with contextlib.suppress(Exception):
            self.stop()

    # --- internals (run on the server loop) ----------------------------------------------------

    def _cleanup_state(self) -> None:
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _choose_port(self) -> int:
        if self._requested_port:
            return self._requested_port
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            remembered = int(json.loads((self.state_dir / "cluster.json").read_text())["port"])
            if remembered > 0:
                return remembered
        return _free_port()

    async def _astart(self) -> None:
        from .runtime import Runtime, images  # the runtime is heavy (probes namespaces); import late

        self.state_dir.mkdir(parents=True, exist_ok=True)
        sc = self.scenario
        certs = pki.ensure_pki(self.state_dir)
        self._tokens = kubeconfig.ensure_tokens(self.state_dir, [u.name for u in sc.users])
        self._runtime = Runtime(self.state_dir / "runtime", isolation=self._isolation_request)
        self.isolation = self._runtime.isolation
        self.notice = self._runtime.notice
        if self.notice:
            log.warning("%s", self.notice)
        store = Store(history=self._watch_cache_size)
        node = Node(store, self._runtime, images, sc.node)
        node.ca_pem = certs.ca_pem
        self.port = self._choose_port()
        if self._runtime.network is None:  # pods share the host's network: they reach this server directly
            node.api_endpoint = self._runtime.api_endpoint(self.port)
        self._node = node
        api = bootstrap.make_api(store, sc.node, bootstrap.sa_signing_key(self.state_dir))
        authorizer = rbac.Authorizer(store)
        self._ctx = apiserver.ClusterContext(
            store=store,
            node=node,
            authenticator=Authenticator(sc.users, self._tokens, authorizer, api.services["tokens"]),
            api=api,
        )
        bootstrap.create_system_objects(api, sc.node, sc.users)
        manifests, frozen = sc.all_manifests()
        node.frozen = frozen
        self._controllers = bootstrap.start_controllers(api, node, sc.node, certs.ca_pem.decode())
        node.hold_replays()  # until the scenario's pods have started (see Node.hold_replays)
        bootstrap.apply_manifests(api, manifests, sc.namespace)

        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(certs.server_cert, certs.server_key)
        ssl_ctx.set_alpn_protocols(["http/1.1"])
        app = apiserver.build_app(self._ctx)
        # handler_cancellation: a client that goes away ends its request (a watch, a log stream) at once,
        # as Go cancels a request's context, instead of when the next write fails.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port, ssl_context=ssl_ctx, reuse_address=True)
        await site.start()
        network = self._runtime.network
        if network is not None:
            # The `kubernetes` Service as pods reach it: this same server, listening on a socket made inside
            # the node's network namespace, so pods never see the host's loopback (runtime/network.py).
            from .runtime.network import API_SERVICE_IP, API_SERVICE_PORT

            sock = await network.socket(bind=(API_SERVICE_IP, API_SERVICE_PORT))
            sock.listen(128)
            sock.setblocking(False)
            await web.SockSite(self._runner, sock, ssl_context=ssl_ctx).start()
        (self.state_dir / "cluster.json").write_text(json.dumps({"port": self.port, "server": self.server}))
        kubeconfig.write_kubeconfig(
            Path(self.kubeconfig),
            server=self.server,
            ca_pem=certs.ca_pem,
            tokens=self._tokens,
            namespace=sc.namespace,
            current_user=sc.current_user,
        )
        self._dns = ClusterDNS(store)
        await self._dns.start(HOST, 0)
        if self._runtime.network is not None:  # the nameserver of every pod's resolv.conf
            import socket as socket_mod

            from .runtime.network import DNS_SERVICE_IP

            udp = await self._runtime.network.socket(type=socket_mod.SOCK_DGRAM, bind=(DNS_SERVICE_IP, 53))
            udp.setblocking(False)
            await self._dns.start(sock=udp)
            tcp = await self._runtime.network.socket(bind=(DNS_SERVICE_IP, 53))
            tcp.listen(64)
            tcp.setblocking(False)
            await self._dns.start_tcp(tcp)
        self._services = ServiceProxy(store, node, self._runtime.network)
        self._services.start()
        await self._services.wait_synced()
        await bootstrap.settle(api, node)
        node.release_replays()

    async def _astop(self) -> None:
        ctx = self._ctx
        for controller in self._controllers:
            controller.stop()
        if self._dns is not None:
            self._dns.stop()
        if self._services is not None:
            self._services.stop()
        if ctx is not None:
            ctx.store.close_watches()
        # Killing the containers ends every exec session the way a dying node does: the process exits
        # (137), the session reports it and closes; the runner then drops whatever is still connected.
        if self._node is not None:
            await self._node.stop()
        if self._runtime is not None:
            try:
                await self._runtime.stop()
            except Exception:
                log.exception("stopping the container runtime failed")
        if self._runner is not None:
            try:
                await self._runner.cleanup()
            except Exception:
                log.exception("stopping the API server failed")


@contextlib.contextmanager
def cluster(
    scenario: str | Path | scenario_mod.Scenario | None = None,
    *,
    port: int = 0,
    state_dir: str | Path | None = None,
    isolation: str = "auto",
) -> Iterator[DemoCluster]:
    """``with k8sterm_widget.demo.cluster() as c:`` — a started :class:`DemoCluster`, stopped on exit."""
    c = DemoCluster(scenario, port=port, state_dir=state_dir, isolation=isolation)
    c.start()
    try:
        yield c
    finally:
        c.stop()
