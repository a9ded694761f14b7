"""Which TPE should ``strategy="auto"`` fall back to on multi-objective problems (instant
trials, where a Gaussian process cannot pay)? Hypervolume ratio to the true front after
``--trials`` evaluations (trial-indexed, so the machine's load does not move it), per seed,
with the sampler's own seconds, on ZDT1/ZDT2/ZDT3 (6 variables) and DTLZ2 (3 objectives,
6 variables); reference point 1.1 in every objective. Optuna's NSGA-II (population 50)
runs beside them as the evolutionary anchor, and OptunaHub's AutoSampler (vendored in
``benchmarks/vendor/``) as the automatic one. ``auto (1 s trials)`` is auto told that each
trial takes a second (``trial_seconds=1``): the rule it would follow on real 1 s trials,
where a Gaussian process may pay; the wall time of such a search is the trials plus the
sampler seconds printed. ``GP unbudgeted`` drops the rule's cap on the GP's share of the
search time (``gp_share``), to show what the cap costs and saves.

Sequential asks and batches of 4 asks before their tells (what ``jobs=4`` does: the constant
liar only matters there). The true fronts are analytic (ZDT3: the non-dominated part of
its curve; DTLZ2: 1.1³ − π/6).

    nice -n 10 python benchmarks/mo_fallback.py [--seeds 3] [--trials 200] [--batch 1,4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume
from vendor import hub_auto_sampler  # benchmarks/vendor: this script's folder is on sys.path

from aimauto_nb.core.strategies import AutoSampler
from aimauto_nb.space.analysis import analyze

optuna.logging.set_verbosity(optuna.logging.WARNING)
N_VARS = 6
REF = 1.1


def zdt(x, which):
    f1 = x[0]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    r = f1 / g
    h = {1: 1 - math.sqrt(r), 2: 1 - r ** 2,
         3: 1 - math.sqrt(r) - r * math.sin(10 * math.pi * f1)}[which]
    return [f1, g * h]


def dtlz2(x, m=3):
    g = sum((xi - 0.5) ** 2 for xi in x[m - 1:])
    f = []
    for i in range(m):
        v = 1 + g
        for xj in x[: m - 1 - i]:
            v *= math.cos(xj * math.pi / 2)
        if i > 0:
            v *= math.sin(x[m - 1 - i] * math.pi / 2)
        f.append(v)
    return f


PROBLEMS = {"ZDT1": (lambda x: zdt(x, 1), 2), "ZDT2": (lambda x: zdt(x, 2), 2),
            "ZDT3": (lambda x: zdt(x, 3), 2), "DTLZ2": (dtlz2, 3)}


def hv(points: list[list[float]], n_obj: int) -> float:
    pts = np.asarray(points, dtype=float)
    pts = pts[(pts < REF).all(axis=1)]
    if not len(pts):
        return 0.0
    return float(compute_hypervolume(pts, np.full(n_obj, REF)))


def true_hv(name: str) -> float:
    if name == "DTLZ2":
        return REF ** 3 - math.pi / 6
    which = int(name[-1])
    f1 = np.linspace(0, 1, 20001)
    f2 = {1: 1 - np.sqrt(f1), 2: 1 - f1 ** 2,
          3: 1 - np.sqrt(f1) - f1 * np.sin(10 * math.pi * f1)}[which]
    return hv(np.column_stack([f1, f2]).tolist(), 2)


SPACE = analyze("\n".join(f"x{i} = hp.float(0, 1)" for i in range(N_VARS)) + "\nscore = {}\n")
METHODS = {
    "auto": lambda seed, n_obj: AutoSampler(SPACE, n_obj, seed=seed),
    "TPE default": lambda seed, n_obj: optuna.samplers.TPESampler(seed=seed),
    "TPE multivariate+liar": lambda seed, n_obj: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, constant_liar=True),
    "TPE liar": lambda seed, n_obj: optuna.samplers.TPESampler(seed=seed, constant_liar=True),
    "NSGA-II (Optuna)": lambda seed, n_obj: optuna.samplers.NSGAIISampler(seed=seed),
    "auto (1 s trials)": lambda seed, n_obj: AutoSampler(SPACE, n_obj, seed=seed, trial_seconds=1.0),
    "auto (1 s trials, GP unbudgeted)": lambda seed, n_obj: AutoSampler(
        SPACE, n_obj, seed=seed, trial_seconds=1.0, gp_share=math.inf),
    "OptunaHub AutoSampler": lambda seed, n_obj: hub_auto_sampler(seed),
}


def run(sampler, objective, n_obj: int, trials: int, batch: int):
    study = optuna.create_study(directions=["minimize"] * n_obj, sampler=sampler)
    spent, values = 0.0, []
    while len(values) < trials:
        asked = []
        for _ in range(min(batch, trials - len(values))):
            t0 = time.perf_counter()
            t = study.ask()
            x = [t.suggest_float(f"x{i}", 0, 1) for i in range(N_VARS)]
            spent += time.perf_counter() - t0
            asked.append((t, x))
        for t, x in asked:
            v = objective(x)
            study.tell(t, v)
            values.append(v)
    return values, spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--batch", default="1,4")
    ap.add_argument("--methods", default=",".join(m for m in METHODS if "1 s" not in m
                                                   and "Hub" not in m))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    print(f"HV ratio after {args.trials} evaluations (ref {REF}), sampler seconds (median)\n")
    print("| problem | batch | method | " + " | ".join(f"seed {s}" for s in seeds)
          + " | median | sampler s |")
    print("|---|---|---|" + "---|" * (len(seeds) + 2))
    for name in args.problems.split(","):
        objective, n_obj = PROBLEMS[name]
        ref = true_hv(name)
        for batch in map(int, args.batch.split(",")):
            for method in args.methods.split(","):
                ratios, spent = [], []
                for seed in seeds:
                    vals, s = run(METHODS[method](seed, n_obj), objective, n_obj, args.trials, batch)
                    ratios.append(hv(vals, n_obj) / ref)
                    spent.append(s)
                print(f"| {name} | {batch} | {method} | " + " | ".join(f"{r:.3f}" for r in ratios)
                      + f" | **{statistics.median(ratios):.3f}** | {statistics.median(spent):.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
