"""Does early stopping pay off, and does Dask scale?

1. Time to target: LightGBM on digits and breast_cancer, the same 20 % stratified holdout
   and the same wall-clock budget for every method: this package with ``pruner="auto"``
   (the ``auto`` strategy: a GP while its asks cost under a second, TPE after; the median
   rule after 10 trials; LightGBM reporting every few rounds by itself), this package without
   pruning, plain Optuna TPE (``study.optimize``), FLAML (lgbm only; needs flaml[automl]) and
   scikit-learn's ``HalvingRandomSearchCV`` (budget: boosting rounds; it has no wall-clock
   budget, so it runs to its end). Target = within 0.5 points of the best score any method
   reached; "time to target" is when a method's best-so-far first got there.
2. Throughput: the same fixed trials on a Dask LocalCluster with 2 worker processes, with 1,
   and on the thread executor with jobs=2, for a pure-Python-heavy cell and for LightGBM;
   and the per-trial overhead of each executor on a trivial cell.

    python benchmarks/scale.py [--budget 40] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import optuna
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

import aimauto_nb as an

optuna.logging.set_verbosity(optuna.logging.WARNING)

CELL = """
from lightgbm import LGBMClassifier
model = LGBMClassifier(n_estimators=hp.int(20, 500, log=True),
                       learning_rate=hp.float(0.01, 0.3, log=True),
                       num_leaves=hp.int(8, 128, log=True),
                       min_child_samples=hp.int(5, 50), n_jobs=1, verbose=-1, random_state=0)
"""


def _split(X, y, seed=0):
    # aimauto's default holdout: 20 % stratified, the same seed
    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=0.2, random_state=seed, stratify=y)
    return X[tr], y[tr], X[va], y[va]


def _trajectory(points):
    """(seconds, best-so-far) from (seconds, score) points in finish order."""
    best, out = -np.inf, []
    for t, v in sorted(points):
        if v > best:
            best = v
            out.append((t, v))
    return out


def run_aimauto(X, y, budget, pruner, seed):
    s = an.search(CELL, data=(X, y), timeout=budget, pruner=pruner, seed=seed, display=False)
    s.wait()
    t0 = min((r.started for r in s.trials), default=dt.datetime.now())
    points = [((r.started + dt.timedelta(seconds=r.duration) - t0).total_seconds(), r.values["accuracy"])
              for r in s.trials if r.state == "complete"]
    c = s.counts()
    return _trajectory(points), f"{c['complete']} complete, {c['pruned']} pruned"


def run_optuna(X, y, budget, seed):
    from lightgbm import LGBMClassifier

    Xt, yt, Xv, yv = _split(X, y, seed)
    start = time.perf_counter()
    points = []

    def objective(trial):
        m = LGBMClassifier(n_estimators=trial.suggest_int("n_estimators", 20, 500, log=True),
                           learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
                           num_leaves=trial.suggest_int("num_leaves", 8, 128, log=True),
                           min_child_samples=trial.suggest_int("min_child_samples", 5, 50),
                           n_jobs=1, verbose=-1, random_state=0).fit(Xt, yt)
        acc = float((m.predict(Xv) == yv).mean())
        points.append((time.perf_counter() - start, acc))
        return acc

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=budget)
    return _trajectory(points), f"{len(study.trials)} trials"


def run_flaml(X, y, budget, seed):
    import json
    import os
    import tempfile

    try:
        from flaml import AutoML
    except ImportError:
        return None, "flaml[automl] not installed"
    Xt, yt, Xv, yv = _split(X, y, seed)
    path = os.path.join(tempfile.gettempdir(), f"flaml-{os.getpid()}.log")
    automl = AutoML()
    automl.fit(Xt, yt, X_val=Xv, y_val=yv, task="classification", metric="accuracy",
               estimator_list=["lgbm"], time_budget=budget, n_jobs=1, verbose=0, seed=seed,
               eval_method="holdout", log_file_name=path)
    points = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if "validation_loss" in rec and "wall_clock_time" in rec:
                points.append((rec["wall_clock_time"], 1 - rec["validation_loss"]))
    os.remove(path)
    return _trajectory(points), f"{len(points)} trials"


def run_halving(X, y, seed):
    from lightgbm import LGBMClassifier
    from scipy.stats import loguniform, randint
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    Xt, yt, Xv, yv = _split(X, y, seed)
    space = {"learning_rate": loguniform(0.01, 0.3), "num_leaves": randint(8, 129),
             "min_child_samples": randint(5, 51)}
    start = time.perf_counter()
    h = HalvingRandomSearchCV(LGBMClassifier(n_jobs=1, verbose=-1, random_state=0), space,
                              resource="n_estimators", min_resources=20, max_resources=500,
                              factor=3, random_state=seed, n_jobs=1, cv=3).fit(Xt, yt)
    took = time.perf_counter() - start
    acc = float((h.best_estimator_.predict(Xv) == yv).mean())
    return [(took, acc)], f"{len(h.cv_results_['params'])} fits, ends at {took:.0f}s"


def time_to(traj, target):
    return next((t for t, v in traj if v >= target), None)


def best_within(traj, budget):
    vals = [v for t, v in traj if t <= budget]
    return max(vals) if vals else None


def search_table(budget: float, seed: int) -> None:
    print(f"\n## Time to target, LightGBM, holdout accuracy, {budget:.0f} s budget per method\n")
    print("| data | method | best in budget | time to target (s) | vs aimauto+pruning | trials |")
    print("|---|---|---|---|---|---|")
    for name, loader in (("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        runs = {
            "aimauto, --pruner auto": run_aimauto(X, y, budget, "auto", seed),
            "aimauto, no pruning": run_aimauto(X, y, budget, None, seed),
            "Optuna TPE": run_optuna(X, y, budget, seed),
            "FLAML (lgbm)": run_flaml(X, y, budget, seed),
            "HalvingRandomSearchCV": run_halving(X, y, seed),
        }
        finals = [v for traj, _ in runs.values() if traj for _, v in traj]
        target = max(finals) - 0.005
        ours = time_to(runs["aimauto, --pruner auto"][0], target)
        for method, (traj, info) in runs.items():
            if traj is None:
                print(f"| {name} | {method} | – | – | – | {info} |")
                continue
            ttt = time_to(traj, target)
            best = best_within(traj, budget if method != "HalvingRandomSearchCV" else float("inf"))
            ratio = "–" if ttt is None or ours is None else f"{ttt / ours:.2f}x"
            print(f"| {name} | {method} | {best:.4f} | {'never' if ttt is None else f'{ttt:.1f}'} | "
                  f"{ratio} | {info} |")
        print(f"| {name} | target | {target:.4f} | | | |")


PURE = """
rounds = hp.int(1_500_000, 2_500_000)
acc = 0
for i in range(rounds):
    acc = (acc * 31 + i) % 1_000_003
score = (acc % 997) / 997
"""

TRIVIAL = "score = hp.float(0, 1)\n"


def _wall(cell, data, trials, executor, jobs):
    t0 = time.perf_counter()
    # random sampling with a seed: the same trials whatever the concurrency
    s = an.search(cell, data=data, trials=trials, executor=executor, jobs=jobs, seed=0,
                  strategy="random", display=False).wait()
    took = time.perf_counter() - t0
    assert s.counts()["complete"] == trials, [r.error for r in s.trials if r.error][:1]
    return took


def throughput_table(trials: int) -> None:
    from distributed import Client

    from aimauto_nb.runners.dask_runner import local_cluster

    X, y = load_digits(return_X_y=True)
    lgbm = CELL.replace("hp.int(20, 500, log=True)", "hp.int(50, 150)")
    rows = []
    with local_cluster(2) as c2, Client(c2) as two, local_cluster(1) as c1, Client(c1) as one:
        for label, cell, data in (("pure-Python cell", PURE, None), ("LightGBM digits", lgbm, (X, y))):
            _wall(cell, data, 2, two, 2)  # warm the workers' imports
            _wall(cell, data, 2, one, 1)
            d2 = _wall(cell, data, trials, two, 2)
            d1 = _wall(cell, data, trials, one, 1)
            th = _wall(cell, data, trials, "thread", 2)
            rows.append((label, d1, d2, th))
        overhead = {}
        for label, ex, jobs in (("thread", "thread", 1), ("process (loky)", "process", 1),
                                ("dask, 1 worker", one, 1)):
            _wall(TRIVIAL, None, 5, ex, jobs)
            overhead[label] = _wall(TRIVIAL, None, 100, ex, jobs) / 100 * 1000
    print(f"\n## Throughput, {trials} trials (wall seconds)\n")
    print("| cell | dask 1 worker | dask 2 workers | threads, jobs=2 | dask 2 vs 1 | dask 2 vs threads |")
    print("|---|---|---|---|---|---|")
    for label, d1, d2, th in rows:
        print(f"| {label} | {d1:.1f} | {d2:.1f} | {th:.1f} | {d1 / d2:.2f}x | {th / d2:.2f}x |")
    print("\n## Overhead per trial, trivial cell (ms, 100 trials, 1 job)\n")
    print("| executor | ms/trial |")
    print("|---|---|")
    for label, ms in overhead.items():
        print(f"| {label} | {ms:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=40.0, help="seconds per method and data set")
    ap.add_argument("--trials", type=int, default=24, help="trials for the throughput table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["search", "throughput"])
    opts = ap.parse_args()
    if opts.only != "throughput":
        search_table(opts.budget, opts.seed)
    if opts.only != "search":
        throughput_table(opts.trials)


if __name__ == "__main__":
    main()
