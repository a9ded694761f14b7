"""Trials as Dask tasks on a ``distributed`` cluster: a ``Client``, a scheduler address,
or a ``LocalCluster`` the search owns (``executor="dask"``). Data and namespace are
scattered once per search; workers decode them once and keep them in a small cache.

The search's own cluster speaks TLS with a certificate made for it
(``distributed.Security.temporary()``, kept in memory), so no other process, local users
included, can connect to its scheduler or workers, read its tasks or run code on them; its
scratch space is a folder under the search's own folder (``.aimauto/``), removed at the
end. A ``Client`` or an address the user gives is used as given: securing that cluster
(TLS, who may reach it) is the user's part, see the README."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from concurrent.futures import Future

import cloudpickle

from .._imports import try_import
from ..runtime.cache import run_cached
from ..runtime.trial import Task
from .base import ExecutorLost, Runner, default_process_jobs
from .channel import ChannelServer

__all__ = ["DaskRunner", "local_cluster"]


class DaskRunner(Runner):
    """Trials as Dask tasks. The study stays in the driver; workers ask it for values over
    the authenticated channel socket (bound on loopback for a local scheduler, else on the
    interface that reaches the scheduler). A worker that dies mid-trial is handled by Dask:
    the task is re-run elsewhere up to the scheduler's ``allowed-failures``, then the trial
    is recorded failed (``KilledWorker``). The search's own LocalCluster allows none: a
    trial that kills its worker kills the next one too when re-run, and with both gone the
    scattered data and the finished, not yet gathered results of other trials went with
    them, so the search waited forever (2 of 8 runs of ``test_dask_worker_death_...``;
    0 of 10 without the re-run)."""

    pickles_namespace = True

    def __init__(self, target, jobs: int | None, broker, spec):
        dask = try_import("dask", extra="dask", what="the dask executor")
        Client = try_import("distributed", extra="dask", what="the dask executor").Client
        self._owned: list = []
        self._scratch = None
        if target == "dask":
            if spec.scratch is not None:
                os.makedirs(spec.scratch, mode=0o700, exist_ok=True)
            self._scratch = tempfile.mkdtemp(prefix="dask-scratch-", dir=spec.scratch)
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                cluster = local_cluster(jobs or default_process_jobs(), self._scratch)
            client = Client(cluster, security=cluster.security, set_as_default=False)
            self._owned = [client, cluster]
        elif isinstance(target, str):
            try:
                client = Client(target, timeout=15, set_as_default=False)
            except OSError as e:
                raise ExecutorLost(f"cannot reach the Dask scheduler at {target}: {e}") from None
            self._owned = [client]
        else:
            client = target
        self.client = client
        self.slots = jobs or max(1, sum(client.nthreads().values()))
        self._server = ChannelServer(broker, host=_host_facing(client.scheduler.address))
        self._key = os.urandom(8).hex()
        self._data = client.scatter(cloudpickle.dumps(spec.data), broadcast=True, hash=False)
        self._ns = client.scatter(spec.namespace_blob or cloudpickle.dumps(spec.namespace),
                                  broadcast=True, hash=False)
        self._executor = client.get_executor(pure=False)
        self._spec = spec

    def check(self) -> None:
        if self.client.status not in ("running", "connecting", "newly-created"):
            raise ExecutorLost(f"lost the Dask scheduler ({self.client.status}); the search "
                               "stopped and keeps the trials it finished")

    def submit(self, number: int) -> Future:
        self.check()
        s = self._spec
        task = Task(number, s.program, {}, None, s.metrics, self._server.channel(number),
                    keep_bytes=True, auto_report=s.auto_report)
        return self._executor.submit(run_cached, cloudpickle.dumps(task), self._key, self._ns,
                                     self._data)

    def kill(self, future: Future) -> None:
        """Dask cannot stop a running task: its result is dropped and its next hp/report
        call finds the trial abandoned."""
        future.cancel()

    def shutdown(self) -> None:
        self._server.close()
        for obj in self._owned:
            try:
                obj.close()
            except Exception:
                pass
        if not self._owned:
            try:
                self.client.cancel([self._data, self._ns])
            except Exception:
                pass
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def local_cluster(n_workers: int, scratch: str | None = None, *, secure: bool = True, **kw):
    """A ``LocalCluster`` of single-threaded worker processes, every server on loopback
    (the scheduler's HTTP server too, on a free port rather than 8787), its scratch space
    in ``scratch``; ``secure``: TLS with a temporary certificate, so that only this process
    and its workers connect (``secure=False``: plain TCP, as a user's cluster may be)."""
    from distributed import LocalCluster, Security

    tls = {"protocol": "tls://", "security": Security.temporary()} if secure else {}
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, local_directory=scratch, **tls,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=40, **kw)


def _host_facing(address: str) -> str:
    """The local IP a worker can reach this process on: loopback for a local scheduler."""
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    try:
        if ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            return "127.0.0.1"
    except (OSError, ValueError):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, 9))
        return sock.getsockname()[0]
