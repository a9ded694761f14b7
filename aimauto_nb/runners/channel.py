"""How a running trial talks to the driver: it asks for parameter values (define-by-run,
so conditional spaces work) and reports intermediate values for pruning.

Thread workers call the :class:`Broker` directly. Process and Dask workers hold a
:class:`RemoteChannel`, a small RPC client over :mod:`multiprocessing.connection`
(authenticated, loopback by default) served by a :class:`ChannelServer` in the driver.
The stdlib connection module is used rather than a manager or a queue because it needs
no extra process and the same address works from loky and Dask workers.
"""

from __future__ import annotations

import math
import os
import threading
import time
from multiprocessing.connection import Client, Listener
from typing import Any

import optuna
import optuna.distributions as od

from ..errors import TrialAbandoned

__all__ = ["Broker", "ChannelServer", "RemoteChannel", "DirectChannel"]


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


class ChannelServer:
    """Serves a :class:`Broker` to worker processes on an authenticated socket."""

    def __init__(self, broker: Broker, host: str = "127.0.0.1"):
        self.broker = broker
        self.authkey = os.urandom(16)
        self._listener = Listener((host, 0), authkey=self.authkey)
        self.address = self._listener.address
        self._closed = False
        self._conns: list = []
        threading.Thread(target=self._accept, name="aimauto-channel", daemon=True).start()

    def channel(self) -> RemoteChannel:
        return RemoteChannel(self.address, self.authkey)

    def _accept(self):
        while not self._closed:
            try:
                conn = self._listener.accept()
            except Exception:
                if self._closed:
                    return
                continue
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                op, args = conn.recv()
                try:
                    result = getattr(self.broker, op)(*args)
                    conn.send(("ok", result))
                except TrialAbandoned as e:
                    conn.send(("abandoned", str(e)))
                except Exception as e:
                    conn.send(("error", f"{type(e).__name__}: {e}"))
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def close(self):
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


_local = threading.local()


class RemoteChannel:
    """Worker-side client of a :class:`ChannelServer` (picklable; connects lazily)."""

    def __init__(self, address, authkey: bytes):
        self.address = address
        self.authkey = authkey

    def _call(self, op, *args):
        conns = getattr(_local, "conns", None)
        if conns is None:
            conns = _local.conns = {}
        conn = conns.get(self.address)
        if conn is None:
            conn = conns[self.address] = Client(self.address, authkey=self.authkey)
        try:
            conn.send((op, args))
            status, payload = conn.recv()
        except (EOFError, OSError):
            conns.pop(self.address, None)
            raise TrialAbandoned("the search driver went away") from None
        if status == "abandoned":
            raise TrialAbandoned(payload)
        if status == "error":
            raise RuntimeError(payload)
        return payload

    def started(self, number):
        self._call("started", number)

    def suggest(self, number, name, dist):
        return self._call("suggest", number, name, dist)

    def report(self, number, value, step) -> bool:
        return self._call("report", number, value, step)
