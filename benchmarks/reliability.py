"""What "nothing lost" costs: the data protection of thread trials and the owner lease of
persistent studies, per trial, each measured side by side with the same search without it.

(1) protect(): read-only views / copy-on-write copies of a notebook-like namespace, against
    the deep copy that would also keep the data safe (once per search; per trial it is 0).
(2) thread searches of trivial trials with and without protect() (per trial, ms).
(3) persistent searches (SQLite, journal) of trivial trials with and without the lease
    (one trial attribute per trial, one study attribute per 5 s), per trial, ms.

Medians of REPEATS runs, interleaved. Run: python benchmarks/reliability.py
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

import aimauto_nb as an
from aimauto_nb.core import assemble
from aimauto_nb.runners import thread
from aimauto_nb.runtime.protect import protect

optuna.logging.set_verbosity(optuna.logging.WARNING)
REPEATS = 5
TRIALS = 60
CELL = "x = hp.float(0, 1)\nscore = -(x - 0.3) ** 2 + float(X[0, 0]) * 0\n"


def namespace():
    import pandas as pd

    rng = np.random.default_rng(0)
    ns = {f"v{i}": i for i in range(200)}  # the small things a notebook holds
    ns["X"] = rng.normal(size=(100_000, 50))  # 40 MB
    ns["y"] = rng.integers(0, 2, 100_000)
    ns["df"] = pd.DataFrame(rng.normal(size=(100_000, 20)))  # 16 MB
    return ns


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def med(xs) -> float:
    return statistics.median(xs)


def protect_vs_copy(ns):
    views = [timed(lambda: protect(ns)) for _ in range(REPEATS)]
    copies = [timed(lambda: {k: copy.deepcopy(v) for k, v in ns.items()}) for _ in range(REPEATS)]
    return med(views), med(copies)


def search(ns, storage=None, name="b"):
    an.search(CELL, metrics="s:max", trials=TRIALS, strategy="random", seed=0, namespace=ns,
              storage=storage, name=name, display=False).wait()


def ab(fn, patch_off, patch_on):
    """Per-trial ms of fn with the feature on and off, interleaved runs."""
    on, off = [], []
    for _ in range(REPEATS):
        patch_off()
        off.append(timed(fn))
        patch_on()
        on.append(timed(fn))
    return med(on) / TRIALS * 1e3, med(off) / TRIALS * 1e3


def main():
    ns = namespace()
    v, c = protect_vs_copy(ns)
    rows = [("protect() of the namespace (56 MB, 203 names), once per search",
             v * 1e3, c * 1e3, "deep copy")]

    real_protect = thread.protect
    on, off = ab(lambda: search(ns),
                 lambda: setattr(thread, "protect", lambda obj: obj),
                 lambda: setattr(thread, "protect", real_protect))
    thread.protect = real_protect
    rows.append((f"thread search, {TRIALS} trivial trials: per trial", on, off, "no protection"))

    real_lease = assemble.Lease
    with tempfile.TemporaryDirectory() as tmp:
        for kind, url in [("SQLite", f"sqlite:///{Path(tmp) / 'b.db'}"),
                          ("journal", f"journal:///{Path(tmp) / 'b.log'}")]:
            counter = iter(range(10_000))

            def run(url=url, counter=counter):
                search({"X": ns["X"]}, storage=url, name=f"s{next(counter)}")

            on, off = ab(run, lambda: setattr(assemble, "Lease", lambda *a: None),
                         lambda: setattr(assemble, "Lease", real_lease))
            assemble.Lease = real_lease
            rows.append((f"{kind} search, {TRIALS} trivial trials: per trial, with lease", on,
                         off, "no lease"))

    print(f"{'what':<66} {'ms':>9} {'alternative ms':>15} {'ratio':>7}  alternative")
    for what, ours, alt, name in rows:
        print(f"{what:<66} {ours:>9.3f} {alt:>15.3f} {ours / alt:>7.3f}  {name}")


if __name__ == "__main__":
    main()
