"""optuna-dashboard inside the kernel: its WSGI app (``optuna_dashboard.wsgi``) served on
127.0.0.1 from a daemon thread, one server per storage, stopped by :meth:`Dashboard.stop`
or when the kernel exits.

The server is the standard library's ``wsgiref`` with a thread per request (what
optuna-dashboard's own ``run_server`` uses, minus its blocking loop, so it can be stopped).
Requests pass :class:`~.guard.Guard` first: a random token in the URL, a loopback ``Host``,
and read-only unless started with ``writable=True`` (optuna-dashboard can delete studies
and overwrite a running trial's result).
"""

from __future__ import annotations

import atexit
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .._imports import try_import
from .guard import Guard

__all__ = ["Dashboard", "serve", "stop", "stop_all", "running_for"]

_SERVERS: dict[Any, Dashboard] = {}
_LOCK = threading.Lock()


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass


def _wsgi_app(storage):
    dashboard = try_import("optuna_dashboard", extra="dashboard", what="the dashboard",
                           package="optuna-dashboard")
    return dashboard.wsgi(storage)


class Dashboard:
    """A running optuna-dashboard. ``url`` opens the study list; ``study_url`` the study it
    was started for. Shown in a notebook it is a link and an IFrame."""

    def __init__(self, storage, key, host: str = "127.0.0.1", port: int = 0,
                 study_id: int | None = None, writable: bool = False):
        self.storage, self.key, self.study_id = storage, key, study_id
        app = _wsgi_app(storage)
        self._httpd = make_server(host, port, app, server_class=_Server,
                                  handler_class=_QuietHandler)
        self.host, self.port = host, self._httpd.server_address[1]
        self.guard = Guard(app, self.port, writable=writable)
        self._httpd.set_app(self.guard)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"optuna-dashboard-{self.port}", daemon=True)
        self._thread.start()

    @property
    def token(self) -> str:
        return self.guard.token

    @property
    def writable(self) -> bool:
        return self.guard.writable

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/dashboard?token={self.token}"

    @property
    def study_url(self) -> str:
        if self.study_id is None:
            return self.url
        return f"http://{self.host}:{self.port}/dashboard/studies/{self.study_id}?token={self.token}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Shut the server down and free its port."""
        with _LOCK:
            if _SERVERS.get(self.key) is self:
                del _SERVERS[self.key]
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<optuna-dashboard {state} at {self.study_url}>"

    def _repr_html_(self) -> str:
        if not self.running:
            return "<p>optuna-dashboard: stopped</p>"
        u = self.study_url
        return (f'<p>optuna-dashboard: <a href="{u}" target="_blank">{u}</a></p>'
                f'<iframe src="{u}" width="100%" height="640" style="border:1px solid #ddd"></iframe>')


def running_for(key) -> Dashboard | None:
    with _LOCK:
        d = _SERVERS.get(key)
    return d if d is not None and d.running else None


def serve(storage, key, *, port: int = 0, study_id: int | None = None,
          writable: bool = False) -> Dashboard:
    """The dashboard for ``storage`` (an Optuna storage), started unless one for ``key``
    runs already (with the same ``writable``); ``port=0`` picks a free port."""
    with _LOCK:
        d = _SERVERS.get(key)
        if d is not None and d.running and port in (0, d.port) and d.writable == writable:
            d.study_id = study_id if study_id is not None else d.study_id
            return d
    if d is not None and d.running and port == d.port:
        d.stop()
    d = Dashboard(storage, key, port=port, study_id=study_id, writable=writable)
    with _LOCK:
        old = _SERVERS.get(key)
        _SERVERS[key] = d
    if old is not None:
        old.stop()
    return d


def stop(key) -> bool:
    """Stop the dashboard for ``key``; False when none was running."""
    with _LOCK:
        d = _SERVERS.get(key)
    if d is None:
        return False
    d.stop()
    return True


def stop_all() -> None:
    with _LOCK:
        servers = list(_SERVERS.values())
    for d in servers:
        d.stop()


atexit.register(stop_all)


def key_of(storage, setting) -> tuple:
    """One server per storage: the journal file, the URL, or the storage object."""
    from .default import DefaultStorage

    if isinstance(setting, DefaultStorage):
        return ("journal", str(setting.journal))
    if isinstance(setting, str):
        return ("url", setting)
    return ("storage", id(storage))


def for_study(storage, setting, study_name: str, *, stop: bool = False, port: int = 0,
              writable: bool = False):
    """Serve (or with ``stop``, stop) the dashboard of ``storage``, opened on one study."""
    key = key_of(storage, setting)
    if stop:
        globals()["stop"](key)
        return None
    return serve(storage, key, port=port, study_id=storage.get_study_id_from_name(study_name),
                 writable=writable)


def for_storage(storage: Any = None, *, stop: bool = False, port: int = 0,
                writable: bool = False):
    """Serve (or stop) the dashboard of a storage URL, an Optuna storage, or (``None``) the
    default journal under ``.aimauto/``."""
    from .default import DefaultStorage, default_folder
    from .urls import check_storage, open_storage

    if storage is None:
        default = DefaultStorage(default_folder())
        key = ("journal", str(default.journal))
        opened = None if stop else default.open()
    elif isinstance(storage, str):
        check_storage(storage)
        key = ("url", storage)
        opened = None if stop else open_storage(storage)[0]
    else:
        key, opened = ("storage", id(storage)), storage
    if stop:
        globals()["stop"](key)
        return None
    return serve(opened, key, port=port, writable=writable)
