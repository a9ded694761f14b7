"""How a running trial talks to the driver: it asks for parameter values (define-by-run,
so conditional spaces work) and reports intermediate values for pruning.

Thread workers call the :class:`Broker` directly. Process and Dask workers hold a
:class:`RemoteChannel`, a small RPC client over a TCP socket (loopback by default) served
by a :class:`ChannelServer` in the driver; a socket, rather than a manager or a queue,
needs no extra process and the same address works from loky and Dask workers.

Any local user can connect to a loopback port, so the server trusts nothing it receives:
messages are length-prefixed JSON (never pickles; distributions travel as Optuna's JSON),
only the three operations a trial needs exist, and every request carries its trial's
token, an HMAC of the trial number under a key that never leaves the driver (so a task
spec that is read elsewhere, a Dask one say, gives access to that one running trial at
most). Each connection is served by its own thread, and one whose first valid request
does not arrive within :data:`FIRST_REQUEST` seconds is dropped, so a silent client holds
up nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import socket
import struct
import threading
import time
from typing import Any

import optuna
import optuna.distributions as od

from ..errors import TrialAbandoned

__all__ = ["Broker", "ChannelServer", "RemoteChannel", "DirectChannel", "FIRST_REQUEST"]

FIRST_REQUEST = 1.0  # seconds a new connection has to send its first valid request
MAX_MESSAGE = 1 << 20
_OPS = ("started", "suggest", "report")


class Broker:
    """Driver-side registry of live Optuna trials: suggests values and decides pruning."""

    def __init__(self, study: optuna.Study, prune_first_metric=None):
        self.study = study
        self._trials: dict[int, optuna.Trial] = {}
        self._lock = threading.Lock()
        self.intermediate: dict[int, dict[int, float]] = {}
        self.started_at: dict[int, float] = {}
        self._prune = prune_first_metric

    def register(self, trial: optuna.Trial) -> None:
        with self._lock:
            self._trials[trial.number] = trial
            self.intermediate[trial.number] = {}

    def release(self, number: int) -> None:
        with self._lock:
            self._trials.pop(number, None)
            self.started_at.pop(number, None)

    def started(self, number: int) -> None:
        """The worker began the trial (its time limit counts from here, not from submit).

        Called from the thread that will make this trial's suggestions. Optuna caches the
        list of trials per thread and clears it only in the thread that calls ``ask()``;
        without this reset a worker thread's sampler would keep seeing the study as it was
        at that thread's first trial (TPE would never leave its random start-up phase).
        """
        self._trial(number)
        local = getattr(self.study, "_thread_local", None)
        if local is not None and hasattr(local, "cached_all_trials"):
            local.cached_all_trials = None
        self.started_at[number] = time.monotonic()

    def _trial(self, number: int) -> optuna.Trial:
        with self._lock:
            trial = self._trials.get(number)
        if trial is None:
            raise TrialAbandoned(f"trial {number} is no longer running (timed out or stopped)")
        return trial

    def suggest(self, number: int, name: str, dist: od.BaseDistribution) -> Any:
        trial = self._trial(number)
        if isinstance(dist, od.IntDistribution):
            return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        if isinstance(dist, od.FloatDistribution):
            return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
        return trial.suggest_categorical(name, dist.choices)

    def report(self, number: int, value: float, step: int) -> bool:
        """Record an intermediate value; True when the trial should be pruned."""
        trial = self._trial(number)
        value = float(value)
        if not math.isfinite(value):
            return False
        self.intermediate[number][int(step)] = value
        if self._prune is not None:
            return bool(self._prune(trial, value, int(step)))
        return False


class DirectChannel:
    """In-process channel for thread workers."""

    def __init__(self, broker: Broker):
        self._broker = broker

    def started(self, number):
        self._broker.started(number)

    def suggest(self, number, name, dist):
        return self._broker.suggest(number, name, dist)

    def report(self, number, value, step) -> bool:
        return self._broker.report(number, value, step)


class ChannelError(Exception):
    """A request that breaks the protocol: the connection is dropped."""


def _send(sock: socket.socket, obj) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        if deadline is not None:
            sock.settimeout(max(deadline - time.monotonic(), 1e-3))
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket, deadline: float | None = None):
    """One message; with ``deadline`` (a ``time.monotonic()``) all of it by then."""
    (size,) = struct.unpack("!I", _recv_exact(sock, 4, deadline))
    if size > MAX_MESSAGE:
        raise ChannelError(f"message of {size} bytes")
    return json.loads(_recv_exact(sock, size, deadline))


class ChannelServer:
    """Serves a :class:`Broker` to worker processes (see the module docstring)."""

    def __init__(self, broker: Broker, host: str = "127.0.0.1"):
        self.broker = broker
        self._key = os.urandom(32)
        self._sock = socket.create_server((host, 0))
        self.address = self._sock.getsockname()[:2]
        self._closed = False
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="aimauto-channel", daemon=True).start()

    def token(self, number: int) -> str:
        return hmac.new(self._key, str(int(number)).encode(), hashlib.sha256).hexdigest()

    def channel(self, number: int) -> RemoteChannel:
        """The channel trial ``number``'s worker uses (it carries that trial's token only)."""
        return RemoteChannel(tuple(self.address), number, self.token(number))

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed:
                    return
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="aimauto-channel-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket):
        try:
            deadline = time.monotonic() + FIRST_REQUEST  # the whole first request, however it trickles
            while True:
                reply = self._answer(_recv(conn, deadline))
                if deadline is not None:
                    conn.settimeout(None)
                    deadline = None
                _send(conn, reply)
        except (EOFError, OSError, ValueError, ChannelError):
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _answer(self, request) -> dict:
        """One request ``{"op", "number", "token", "args"}``; a bad one drops the connection."""
        if not isinstance(request, dict):
            raise ChannelError("not a request")
        op, number, token, args = (request.get(k) for k in ("op", "number", "token", "args"))
        if (op not in _OPS or not isinstance(number, int) or not isinstance(token, str)
                or not isinstance(args, list)
                or not hmac.compare_digest(token, self.token(number))):
            raise ChannelError("not a request of a running trial")
        try:
            if op == "started":
                result = self.broker.started(number)
            elif op == "suggest":
                name, dist = args
                result = self.broker.suggest(number, str(name), od.json_to_distribution(dist))
            else:
                value, step = args
                result = self.broker.report(number, float(value), int(step))
            return {"status": "ok", "payload": result}
        except TrialAbandoned as e:
            return {"status": "abandoned", "payload": str(e)}
        except Exception as e:
            return {"status": "error", "payload": f"{type(e).__name__}: {e}"}

    def close(self):
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass


_local = threading.local()


class RemoteChannel:
    """Worker-side client of a :class:`ChannelServer` for one trial (picklable; connects
    lazily, one connection per worker thread and server, reused by later trials)."""

    def __init__(self, address, number: int, token: str):
        self.address = tuple(address)
        self.number = number
        self.token = token

    def _call(self, op, *args):
        conns = getattr(_local, "conns", None)
        if conns is None:
            conns = _local.conns = {}
        try:
            conn = conns.get(self.address)
            if conn is None:
                conn = conns[self.address] = socket.create_connection(self.address)
            _send(conn, {"op": op, "number": self.number, "token": self.token,
                         "args": list(args)})
            reply = _recv(conn)
        except (EOFError, OSError, ChannelError):
            conn = conns.pop(self.address, None)
            if conn is not None:
                conn.close()
            raise TrialAbandoned("the search driver went away") from None
        status, payload = reply["status"], reply["payload"]
        if status == "abandoned":
            raise TrialAbandoned(payload)
        if status == "error":
            raise RuntimeError(payload)
        return payload

    def started(self, number):
        self._call("started")

    def suggest(self, number, name, dist):
        return self._call("suggest", name, od.distribution_to_json(dist))

    def report(self, number, value, step) -> bool:
        return bool(self._call("report", float(value), int(step)))
