"""What aimauto_nb costs over a hand-written Optuna ask/tell loop, and what jobs=2 buys.

Prints one table: (1) per-trial overhead on a trivial cell, same sampler and seed;
(2) LightGBM (n_jobs=1) on breast_cancer, 60 trials, same seed and sampler (TPE, no warm
start): wall-time ratio and best score, then the same search with ``strategy="auto"`` (what
its Gaussian process costs in wall time on cheap trials); (3) jobs=2 vs jobs=1 on the same
LightGBM search. Run: python benchmarks/overhead.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import optuna
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

import aimauto_nb as an

optuna.logging.set_verbosity(optuna.logging.WARNING)
SEED = 0


def sampler(kind):
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=SEED)
    return optuna.samplers.RandomSampler(seed=SEED)


def trivial_optuna(kind, n):
    study = optuna.create_study(direction="maximize", sampler=sampler(kind))
    t0 = time.perf_counter()
    for _ in range(n):
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        study.tell(t, -((x - 0.3) ** 2))
    return time.perf_counter() - t0


def trivial_ours(kind, n):
    t0 = time.perf_counter()
    an.search("x = hp.float(0, 1)\nscore = -(x - 0.3) ** 2\n", metrics="s:max", trials=n,
              strategy=kind, seed=SEED, storage=False, display=False).wait()  # in memory, as the loop
    return time.perf_counter() - t0


LGBM_CELL = """
from lightgbm import LGBMClassifier
model = LGBMClassifier(
    n_estimators=hp.int(20, 500, log=True),
    learning_rate=hp.float(1e-3, 0.3, log=True),
    num_leaves=hp.int(4, 128, log=True),
    verbose=-1, n_jobs=1, random_state=0,
)
"""


def lgbm_optuna(X, y, n):
    from lightgbm import LGBMClassifier

    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=0.2, random_state=SEED, stratify=y)

    def objective(t):
        m = LGBMClassifier(
            n_estimators=t.suggest_int("n_estimators", 20, 500, log=True),
            learning_rate=t.suggest_float("learning_rate", 1e-3, 0.3, log=True),
            num_leaves=t.suggest_int("num_leaves", 4, 128, log=True),
            verbose=-1, n_jobs=1, random_state=0,
        )
        m.fit(X[tr], y[tr])
        return accuracy_score(y[va], m.predict(X[va]))

    study = optuna.create_study(direction="maximize", sampler=sampler("tpe"))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - t0, study.best_value


def lgbm_ours(X, y, n, jobs=1, strategy="tpe"):
    t0 = time.perf_counter()
    s = an.search(LGBM_CELL, data=(X, y), trials=n, seed=SEED, jobs=jobs, strategy=strategy,
                  warm_start=False, display=False).wait()
    return time.perf_counter() - t0, s.best.values["accuracy"]


def main(repeats=3):
    rows = []
    n = 300
    for kind in ("random", "tpe"):
        o = statistics.median(trivial_optuna(kind, n) for _ in range(repeats)) / n * 1e6
        a = statistics.median(trivial_ours(kind, n) for _ in range(repeats)) / n * 1e6
        rows.append((f"trivial cell, {kind}, {n} trials: µs/trial", f"{o:,.0f}", f"{a:,.0f}",
                     f"{a / o:.2f}×", f"+{a - o:,.0f} µs/trial"))
    X, y = load_breast_cancer(return_X_y=True)
    opt = [lgbm_optuna(X, y, 60) for _ in range(repeats)]
    ours = [lgbm_ours(X, y, 60) for _ in range(repeats)]
    to, tu = statistics.median(t for t, _ in opt), statistics.median(t for t, _ in ours)
    rows.append(("LightGBM breast_cancer 60 trials: wall s", f"{to:.1f}", f"{tu:.1f}",
                 f"{tu / to:.3f}×", "target ≤ 1.05×"))
    bo, bu = opt[0][1], ours[0][1]
    rows.append(("  best holdout accuracy (same seed)", f"{bo:.4f}", f"{bu:.4f}",
                 "identical" if bo == bu else "DIFFERENT", ""))
    auto = [lgbm_ours(X, y, 60, strategy="auto") for _ in range(repeats)]
    ta = statistics.median(t for t, _ in auto)
    rows.append(("  strategy='auto' instead (its GP within a fifth of the trials' time): wall s", f"{to:.1f}",
                 f"{ta:.1f}", f"{ta / to:.3f}×", f"best {auto[0][1]:.4f}"))
    two = [lgbm_ours(X, y, 60, jobs=2)[0] for _ in range(repeats)]
    t2 = statistics.median(two)
    rows.append(("LightGBM 60 trials, jobs=2 vs jobs=1 (threads): wall s", f"{tu:.1f}", f"{t2:.1f}",
                 f"{tu / t2:.2f}× faster", "target ≥ 1.7×"))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{w}}  {'optuna':>8}  {'aimauto':>8}  {'ratio':>12}  note")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>8}  {r[2]:>8}  {r[3]:>12}  {r[4]}")
    print(f"\nmedians of {repeats} runs; {__import__('os').cpu_count()} cores; optuna {optuna.__version__}")


if __name__ == "__main__":
    main()
