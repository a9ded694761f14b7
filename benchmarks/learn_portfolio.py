"""Learn the warm-start portfolio (``aimauto_nb/core/portfolio.json``).

For each estimator with curated ranges (the ``tune`` form's), draw candidate configurations
from those ranges (plus the defaults), score every candidate on every training data set
(30 % stratified holdout), and pick the configurations greedily so that together they do
best across the data sets (each data set's scores min-max normalised; the portfolio's score
on a data set is its best member's): the "greedy portfolio" of Feurer et al. (2015).

Training data sets ship with scikit-learn or are generated, and are disjoint from the ones
``benchmarks/quality.py`` judges the portfolio on (breast_cancer, digits).

    python benchmarks/learn_portfolio.py [--candidates 12] [--size 4]
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
from sklearn.datasets import load_diabetes, load_iris, load_wine, make_classification, make_friedman1
from sklearn.model_selection import train_test_split

from aimauto_nb.notebook.form import CURATED

OUT = Path(__file__).resolve().parents[1] / "aimauto_nb" / "core" / "portfolio.json"

CLASSIFICATION = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "make_classification": lambda: make_classification(600, 20, n_informative=8, n_classes=3,
                                                       random_state=0),
}
REGRESSION = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(500, 10, noise=1.0, random_state=0),
}


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


def score(est, params, X, y) -> float:
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0,
                                      stratify=y if is_classifier(est) else None)
    model = clone(est).set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xt, yt)
    return float(model.score(Xv, yv))


def greedy(scores: np.ndarray, size: int) -> list[int]:
    """Candidates (rows) chosen so the best member per data set (column) is best on average."""
    lo, hi = scores.min(0), scores.max(0)
    norm = (scores - lo) / np.where(hi > lo, hi - lo, 1.0)
    chosen: list[int] = []
    best = np.zeros(scores.shape[1])
    for _ in range(min(size, len(scores))):
        gains = [np.maximum(best, norm[i]).mean() if i not in chosen else -1 for i in range(len(norm))]
        i = int(np.argmax(gains))
        chosen.append(i)
        best = np.maximum(best, norm[i])
    return chosen


def jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--size", type=int, default=4)
    args = ap.parse_args()
    data = {k: f() for k, f in {**CLASSIFICATION, **REGRESSION}.items()}
    portfolio, table = {}, []
    for est in estimators():
        name = type(est).__name__
        ranges = [r for r in CURATED.get(name, []) if r.name in est.get_params()]
        sets = CLASSIFICATION if is_classifier(est) else REGRESSION
        rng = np.random.default_rng(0)
        defaults = {r.name: est.get_params()[r.name] for r in ranges}
        candidates = [defaults] + [draw(ranges, rng) for _ in range(args.candidates)]
        t0 = time.perf_counter()
        scores = np.array([[score(est, c, *data[d]) for d in sets] for c in candidates])
        picks = greedy(scores, args.size)
        portfolio[name] = [{k: jsonable(v) for k, v in candidates[i].items()} for i in picks]
        row = (name, len(candidates), time.perf_counter() - t0, scores[picks[0]].mean(),
               scores[0].mean(), np.max(scores[picks], axis=0).mean(), scores.max(0).mean())
        if not table:
            print(f"{'estimator':<32} {'cands':>5} {'secs':>6} {'first':>7} {'default':>8} "
                  f"{'portfolio':>9} {'oracle':>7}")
        table.append(row)
        print(f"{row[0]:<32} {row[1]:>5} {row[2]:>6.1f} {row[3]:>7.4f} {row[4]:>8.4f} "
              f"{row[5]:>9.4f} {row[6]:>7.4f}", flush=True)
        doc = {"learned": dt.date.today().isoformat(),
               "datasets": list(CLASSIFICATION) + list(REGRESSION),
               "method": "greedy portfolio over curated-range candidates, 30% holdout score",
               "estimators": portfolio}
        OUT.write_text(json.dumps(doc, indent=1) + "\n")  # after each estimator: partial runs count
    print(f"\nwrote {OUT}  (first: the portfolio's first configuration, mean score; default: the "
          "estimator's defaults; portfolio: best member per data set; oracle: best candidate per "
          "data set)")


if __name__ == "__main__":
    main()
