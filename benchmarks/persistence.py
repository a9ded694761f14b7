"""What persisting by default costs: per-trial time of a search in memory, in the default
journal file (.aimauto/journal.log; also with AIMAUTO_FSYNC=1, Optuna's fsync per write) and
in SQLite, measured side by side in one run.

Rows: (1) a trivial cell (the storage is nearly all the work), random sampler, 200 trials;
(2) a decision tree on breast_cancer with accuracy,size (Pareto models are also written
beside the storage), 60 trials; (3) listing the stored studies and resuming the journal.
Median of 3 runs each. Run: python benchmarks/persistence.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from sklearn.datasets import load_breast_cancer

import aimauto_nb as an

TRIVIAL = "x = hp.float(0, 1)\nscore = -(x - 0.3) ** 2\n"
TREE = """
from sklearn.tree import DecisionTreeClassifier
model = DecisionTreeClassifier(max_depth=hp.int(1, 12), min_samples_leaf=hp.int(1, 20),
                               criterion=hp.choice(["gini", "entropy"]), random_state=0)
"""
REPEATS = 3


def per_trial_ms(storage_for, cell, n, name, **kw) -> float:
    times = []
    if storage_for == "fsync":  # the default journal with Optuna's fsync per write
        os.environ["AIMAUTO_FSYNC"] = "1"
        try:
            return per_trial_ms(lambda r: None, cell, n, name, **kw)
        finally:
            del os.environ["AIMAUTO_FSYNC"]
    for r in range(REPEATS):
        storage = storage_for(r)
        t0 = time.perf_counter()
        an.search(cell, trials=n, strategy="random", seed=r, display=False, name=f"{name}{r}",
                  **({} if storage is None else {"storage": storage}), **kw).wait()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n * 1000


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="aimauto-bench-"))
    os.environ["AIMAUTO_DIR"] = str(tmp / "default")
    data = load_breast_cancer(return_X_y=True)
    kinds = {
        "in memory": lambda r: False,
        "default journal": lambda r: None,
        "journal + fsync": "fsync",
        "SQLite": lambda r: f"sqlite:///{tmp}/s{r}-{time.monotonic_ns()}.db",
    }
    rows = []
    for label, cell, n, kw in (("trivial cell, 200 trials", TRIVIAL, 200, {"metrics": "s:max"}),
                               ("tree, accuracy+size, 60 trials", TREE, 60,
                                {"data": data, "metrics": "accuracy,size"})):
        ms = {k: per_trial_ms(f, cell, n, name=label.split()[0].rstrip(","), **kw) for k, f in kinds.items()}
        rows.append((label, ms))
    print(f"{'workload':32} {'storage':16} {'ms/trial':>9} {'+ms vs memory':>14} {'× memory':>9}")
    for label, ms in rows:
        base = ms["in memory"]
        for k, v in ms.items():
            print(f"{label:32} {k:16} {v:9.2f} {v - base:14.2f} {v / base:9.2f}")
    n_trials = sum(s.trials for s in an.studies())
    t0 = time.perf_counter()
    listed = an.studies()
    t_list = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    an.search(TRIVIAL, trials=1, metrics="s:max", name="trivial0", resume=True, display=False).wait()
    t_resume = (time.perf_counter() - t0) * 1000
    print(f"\nthe default journal after these runs: {len(listed)} studies, {n_trials} trials, "
          f"{(tmp / 'default' / 'journal.log').stat().st_size / 1e6:.1f} MB")
    print(f"an.studies(): {t_list:.0f} ms; resume=True + 1 trial: {t_resume:.0f} ms")


if __name__ == "__main__":
    main()
