"""Learn the warm-start portfolio (``aimauto_nb/core/portfolio.json``).

For each estimator with curated ranges (the ``tune`` form's, plus :data:`EXTRA` for the
parameters users also search), draw candidate configurations from those ranges (plus the
defaults), score every candidate on every training task (3-fold CV), and pick the
configurations greedily so that together they leave the least regret across the tasks (a
task's regret: the best candidate's score minus the portfolio's best member's, in score
points): the "greedy portfolio" of Feurer et al. (2015). Members are added while they cut
the mean regret by at least ``--min-gain``, up to ``--size``. With ``--frugal`` each step
takes the cheapest candidate (fit time relative to the other candidates on the same tasks)
among those within ``--min-gain`` of the step's least regret: a warm-start trial that costs
five random ones delays the search by five trials' time (FLAML's "cost-frugal" argument).
Measured for LGBMClassifier and not shipped: it kept the costly first member, swapped the
third for cheaper ones and grew to 6 members, and on breast_cancer + digits x 3 seeds
(``quality.py --lgbm-params 8``) auto's median trials to target against the soonest anchor
fell from 2.49x to 0.97x while its seconds rose from 1.18x to 1.46x
(``benchmarks/results/lightgbm8_frugal.jsonl``, ``lightgbm_frugal_portfolio.json``).

Training tasks ship with scikit-learn or are generated (varied rows, features, classes,
noise and imbalance), and are disjoint from the ones ``benchmarks/quality.py`` judges the
portfolio on (breast_cancer, digits, ``make_classification(20_000, 40, n_informative=12,
random_state=0)``).

    python benchmarks/learn_portfolio.py [--only LGBMClassifier,LGBMRegressor]
        [--candidates 40] [--size 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.datasets import (
    load_diabetes,
    load_iris,
    load_wine,
    make_classification,
    make_friedman1,
    make_friedman2,
    make_gaussian_quantiles,
    make_hastie_10_2,
    make_regression,
)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from aimauto_nb.notebook.form import CURATED, Range

OUT = Path(__file__).resolve().parents[1] / "aimauto_nb" / "core" / "portfolio.json"


def _mc(n, f, informative, classes=2, flip=0.01, sep=1.0, weights=None, seed=0):
    return lambda: make_classification(n, f, n_informative=informative, n_redundant=f // 5,
                                       n_classes=classes, flip_y=flip, class_sep=sep,
                                       weights=weights, random_state=100 + seed)


CLASSIFICATION = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "mc_600x20_3": _mc(600, 20, 8, classes=3, seed=0),
    "mc_1500x10_2": _mc(1500, 10, 5, seed=1),
    "mc_2000x30_2_noisy": _mc(2000, 30, 10, flip=0.1, sep=0.8, seed=2),
    "mc_3000x50_2_imbalanced": _mc(3000, 50, 15, weights=[0.85], seed=3),
    "mc_2500x25_4": _mc(2500, 25, 12, classes=4, sep=1.2, seed=4),
    "mc_1000x60_2_hard": _mc(1000, 60, 6, sep=0.6, seed=5),
    "mc_4000x20_3": _mc(4000, 20, 10, classes=3, flip=0.03, seed=6),
    "hastie_2000": lambda: make_hastie_10_2(2000, random_state=7),
    "quantiles_1500x8_3": lambda: make_gaussian_quantiles(n_samples=1500, n_features=8,
                                                          n_classes=3, random_state=8),
}
REGRESSION = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(500, 10, noise=1.0, random_state=0),
    "friedman1_3000": lambda: make_friedman1(3000, 20, noise=2.0, random_state=1),
    "friedman2_1500": lambda: make_friedman2(1500, noise=20.0, random_state=2),
    "regression_2000x30": lambda: make_regression(2000, 30, n_informative=10, noise=20.0,
                                                  random_state=3),
}

_LGBM_EXTRA = [Range("subsample", "float", 0.5, 1.0, False, ()),
               Range("reg_alpha", "float", 1e-3, 10.0, True, ())]
#: parameters beyond the ``tune`` form's that cells commonly search, and the fixed arguments
#: they need to take effect
EXTRA = {"LGBMClassifier": (_LGBM_EXTRA, {"subsample_freq": 1}),
         "LGBMRegressor": (_LGBM_EXTRA, {"subsample_freq": 1})}


def estimators():
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC

    out = [RandomForestClassifier(n_jobs=1, random_state=0), RandomForestRegressor(n_jobs=1, random_state=0),
           ExtraTreesClassifier(n_jobs=1, random_state=0), ExtraTreesRegressor(n_jobs=1, random_state=0),
           GradientBoostingClassifier(random_state=0), GradientBoostingRegressor(random_state=0),
           HistGradientBoostingClassifier(random_state=0), HistGradientBoostingRegressor(random_state=0),
           LogisticRegression(max_iter=2000), SVC(), KNeighborsClassifier(), KNeighborsRegressor(),
           MLPClassifier(max_iter=300, random_state=0), MLPRegressor(max_iter=300, random_state=0)]
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor

        out += [LGBMClassifier(verbose=-1, n_jobs=1, random_state=0),
                LGBMRegressor(verbose=-1, n_jobs=1, random_state=0)]
    except ImportError:
        pass
    return out


def draw(ranges, rng) -> dict:
    out = {}
    for r in ranges:
        if r.kind == "choice":
            out[r.name] = r.options[rng.integers(len(r.options))]
            continue
        lo, hi = (math.log(r.low), math.log(r.high)) if r.log else (r.low, r.high)
        v = rng.uniform(lo, hi)
        v = math.exp(v) if r.log else v
        out[r.name] = int(round(v)) if r.kind == "int" else float(f"{v:.4g}")
    return out


def score(est, params, X, y) -> tuple[float, float]:
    """Mean 3-fold CV score, and the seconds it took."""
    cv = (StratifiedKFold if is_classifier(est) else KFold)(3, shuffle=True, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = float(cross_val_score(clone(est).set_params(**params), X, y, cv=cv).mean())
    return s, time.perf_counter() - t0


def relative_cost(seconds: np.ndarray) -> np.ndarray:
    """Each candidate's (row's) geometric mean over tasks of its time / the task's median."""
    return np.exp(np.log(seconds / np.median(seconds, axis=0)).mean(axis=1))


def greedy(scores: np.ndarray, size: int, min_gain: float = 0.0,
           cost: np.ndarray | None = None) -> list[int]:
    """Candidates (rows) chosen so the best member per task (column) leaves the least mean
    regret to the best candidate; stops at ``size`` or when a member gains < ``min_gain``.
    With ``cost``, each step takes the cheapest candidate within ``min_gain`` of the step's
    least regret."""
    oracle = scores.max(0)
    chosen: list[int] = []
    best = np.full(scores.shape[1], -np.inf)
    regret = np.inf
    for _ in range(min(size, len(scores))):
        after = np.array([(oracle - np.maximum(best, scores[i])).mean() if i not in chosen
                          else np.inf for i in range(len(scores))])
        i = int(np.argmin(after))
        if chosen and regret - after[i] < min_gain:
            break
        if cost is not None:
            near = np.flatnonzero(after <= after[i] + min_gain)
            i = int(near[np.argmin(cost[near])])
        chosen.append(i)
        best, regret = np.maximum(best, scores[i]), after[i]
    return chosen


def jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--size", type=int, default=6)
    ap.add_argument("--min-gain", type=float, default=0.001,
                    help="least cut in mean regret (score points / 100) a member must bring")
    ap.add_argument("--frugal", action="store_true",
                    help="take the cheapest of the near-best candidates at each step")
    ap.add_argument("--only", help="relearn these estimators (comma-separated), keep the rest")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    portfolio, sources = doc.get("estimators", {}), doc.get("sources", {})
    if "datasets" in doc:  # the first format: one provenance for every estimator
        old = {k: doc[k] for k in ("learned", "datasets", "method")}
        sources = {name: dict(old) for name in portfolio} | sources
    data = {}
    print(f"{'estimator':<32} {'cands':>5} {'secs':>7} {'size':>4} {'first':>7} {'default':>8} "
          f"{'portfolio':>9} {'oracle':>7} {'within 0.5':>10} {'cost':>5} {'by regret':>9} {'cost':>5}")
    for est in estimators():
        name = type(est).__name__
        if only is not None and name not in only:
            continue
        extra, fixed = EXTRA.get(name, ([], {}))
        ranges = [r for r in CURATED.get(name, []) + extra if r.name in est.get_params()]
        est = est.set_params(**fixed)
        sets = CLASSIFICATION if is_classifier(est) else REGRESSION
        for d in sets:
            if d not in data:
                data[d] = sets[d]()
        rng = np.random.default_rng(0)
        defaults = {r.name: est.get_params()[r.name] for r in ranges}
        candidates = [defaults] + [draw(ranges, rng) for _ in range(args.candidates)]
        t0 = time.perf_counter()
        runs = np.array([[score(est, c, *data[d]) for d in sets] for c in candidates])
        scores, cost = runs[..., 0], relative_cost(runs[..., 1])
        picks = greedy(scores, args.size, args.min_gain, cost if args.frugal else None)
        portfolio[name] = [{k: jsonable(v) for k, v in candidates[i].items()} for i in picks]
        sources[name] = {"learned": dt.date.today().isoformat(), "datasets": list(sets),
                         "candidates": len(candidates), "fixed": fixed,
                         "method": "greedy least-regret portfolio, 3-fold CV score"
                                   + (", cheapest within --min-gain" if args.frugal else "")}
        oracle, member = scores.max(0), np.max(scores[picks], axis=0)
        plain = greedy(scores, args.size, args.min_gain) if args.frugal else picks
        print(f"{name:<32} {len(candidates):>5} {time.perf_counter() - t0:>7.1f} {len(picks):>4} "
              f"{scores[picks[0]].mean():>7.4f} {scores[0].mean():>8.4f} {member.mean():>9.4f} "
              f"{oracle.mean():>7.4f} {int((oracle - member <= 0.005).sum()):>5}/{len(sets)} "
              f"{cost[picks].sum():>5.1f} {np.max(scores[plain], axis=0).mean():>9.4f} "
              f"{cost[plain].sum():>5.1f}", flush=True)
        doc = {"estimators": portfolio, "sources": sources}
        OUT.write_text(json.dumps(doc, indent=1) + "\n")  # after each estimator: partial runs count
    print(f"\nwrote {OUT}  (mean scores over the tasks. first: the portfolio's first "
          "configuration; default: the estimator's defaults; portfolio: best member per task; "
          "oracle: best candidate per task; within 0.5: tasks where the portfolio is within "
          "0.5 points of the oracle; cost: the members' fit time in median candidates' fits; "
          "by regret: the portfolio and cost of picking by regret alone)")


if __name__ == "__main__":
    main()
