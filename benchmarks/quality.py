"""Does ``strategy="auto"`` find better models sooner? Side by side, same budget, per seed
and as medians.

    python benchmarks/quality.py [--only zdt,synthetic,lightgbm,reporting,folds] [--seeds 3]
        [--zdt-trials 200] [--fold-datasets breast_cancer,digits,generated]
        [--lgbm-params 8] [--methods auto,cold,tpe,hub,flaml] [--record runs.jsonl]

- ZDT1 / ZDT2 (6 variables, hypervolume ratio to the true front, reference point (1.1, 5)):
  auto with instant trials and with 1 s trials (simulated: the rule is told trials cost 1 s;
  the sampler's own seconds are reported, so the wall time of a real 1 s search is
  trials + sampler seconds), against Optuna's TPE, NSGA-II and GP.
- Branin and Hartmann6 (known optima): simple regret after 50 trials, auto vs TPE vs GP.
- Reporting overhead: the same LightGBM trials with no pruner and with one that never
  prunes (every report still pays the decision and the storage write).
- LightGBM, 5-fold CV accuracy, 60 trials (``--datasets``: breast_cancer, digits, generated,
  generated_3000),
  the same folds for every method: best score, trials and seconds to within 0.5 points of
  the best any method reached; this package (auto + the portfolio warm start; ``cold``:
  without it, to see what the portfolio brings) vs an Optuna
  TPE loop vs OptunaHub's AutoSampler (vendored in ``benchmarks/vendor/``) vs FLAML
  restricted to LightGBM (TPE's wall time; needs ``flaml[automl]``, installed for the
  benchmark only, its per-trial curve read from its log); then the median ratios of the
  anchors' trials and seconds to target to auto's. The portfolio was learned on other data
  sets (``benchmarks/learn_portfolio.py``).
- CV fold pruning (``--only folds``, not in the default run: it is slow): LightGBM, 5-fold
  CV, 60 trials on breast_cancer, digits and a generated 20,000 x 40 set: auto with
  ``pruner="auto"`` vs auto without pruning vs an Optuna TPE loop; best, trials / folds /
  seconds to the seed's best - 0.5 points; then the unpruned trials replayed per rule.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import optuna
from vendor import hub_auto_sampler  # benchmarks/vendor: this script's folder is on sys.path

import aimauto_nb as an
from aimauto_nb.core.strategies import AutoSampler
from aimauto_nb.space.analysis import analyze

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore")

ZDT_CELL = "\n".join(f"x{i} = hp.float(0, 1)" for i in range(6)) + "\nscore = {}\n"


def zdt(x, which):
    f1 = x[0]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    h = 1 - math.sqrt(f1 / g) if which == 1 else 1 - (f1 / g) ** 2
    return f1, g * h


def hypervolume(points, ref=(1.1, 5.0)):
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    front, best = [], math.inf
    for p in pts:
        if p[1] < best:
            front.append(p)
            best = p[1]
    hv, prev = 0.0, ref[1]
    for i, (f1, f2) in enumerate(front):
        nxt = front[i + 1][0] if i + 1 < len(front) else ref[0]
        hv += (nxt - f1) * (ref[1] - f2)
        prev = f2
    del prev
    return hv


def true_hv(which, ref=(1.1, 5.0)):
    f1 = np.linspace(0, 1, 20001)
    f2 = 1 - np.sqrt(f1) if which == 1 else 1 - f1 ** 2
    return hypervolume(list(zip(f1, f2)), ref)


def sampler_for(name, seed, space, n_obj, trial_seconds=None):
    if name.startswith("auto"):
        return AutoSampler(space, n_obj, seed=seed, trial_seconds=trial_seconds)
    return {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
            "gp": lambda: optuna.samplers.GPSampler(seed=seed),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[name]()


def run_loop(sampler, directions, objective, names, low, high, trials):
    """An ask/tell loop; returns (values per trial, sampler seconds)."""
    study = optuna.create_study(directions=directions, sampler=sampler)
    spent, values = 0.0, []
    for _ in range(trials):
        t0 = time.perf_counter()
        t = study.ask()
        x = [t.suggest_float(n, lo, hi) for n, lo, hi in zip(names, low, high)]
        spent += time.perf_counter() - t0
        v = objective(x)
        study.tell(t, v)
        values.append(v)
    return values, spent


def zdt_rows(seeds, trials):
    space = analyze(ZDT_CELL)
    names = [f"x{i}" for i in range(6)]
    methods = [("auto (instant trials)", "auto", None), ("auto (1 s trials)", "auto", 1.0),
               ("Optuna TPE", "tpe", None), ("Optuna NSGA-II", "nsga2", None), ("Optuna GP", "gp", None)]
    print(f"\n## ZDT (6 variables, {trials} trials, hypervolume ratio, ref (1.1, 5))\n")
    print("| problem | method | " + " | ".join(f"seed {s}" for s in seeds)
          + " | median | sampler s (median) |")
    print("|---|---|" + "---|" * (len(seeds) + 2))
    for which in (1, 2):
        ref_hv = true_hv(which)
        for label, name, secs in methods:
            ratios, spent = [], []
            for seed in seeds:
                sampler = sampler_for(name, seed, space, 2, secs)
                vals, s = run_loop(sampler, ["minimize", "minimize"],
                                   lambda x, w=which: zdt(x, w), names, [0] * 6, [1] * 6, trials)
                ratios.append(hypervolume(vals) / ref_hv)
                spent.append(s)
            print(f"| ZDT{which} | {label} | " + " | ".join(f"{r:.3f}" for r in ratios)
                  + f" | **{statistics.median(ratios):.3f}** | {statistics.median(spent):.1f} |", flush=True)


def branin(x):
    x1, x2 = x
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
                 [17, 8, 0.05, 10, 0.1, 14]])
_H6P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x):
    x = np.asarray(x)
    return float(-np.sum(np.array([1.0, 1.2, 3.0, 3.2]) * np.exp(-np.sum(_H6A * (x - _H6P) ** 2, axis=1))))


def synthetic_rows(seeds, trials=50):
    problems = [("Branin", branin, ["x1", "x2"], [-5, 0], [10, 15], 0.397887),
                ("Hartmann6", hartmann6, [f"x{i}" for i in range(6)], [0] * 6, [1] * 6, -3.32237)]
    print(f"\n## Simple regret after {trials} trials (lower is better)\n")
    print("| problem | method | " + " | ".join(f"seed {s}" for s in seeds)
          + " | median | sampler s (median) |")
    print("|---|---|" + "---|" * (len(seeds) + 2))
    for pname, f, names, low, high, optimum in problems:
        cell = "\n".join(f"{n} = hp.float({lo}, {hi})" for n, lo, hi in zip(names, low, high))
        cell += "\nscore = 0\n"
        space = analyze(cell)
        for label, name in (("auto", "auto"), ("Optuna TPE", "tpe"), ("Optuna GP", "gp")):
            regrets, spent = [], []
            for seed in seeds:
                sampler = sampler_for(name, seed, space, 1)
                vals, s = run_loop(sampler, ["minimize"], f, names, low, high, trials)
                regrets.append(min(vals) - optimum)
                spent.append(s)
            print(f"| {pname} | {label} | " + " | ".join(f"{r:.4f}" for r in regrets)
                  + f" | **{statistics.median(regrets):.4f}** | {statistics.median(spent):.1f} |", flush=True)


class Clock:
    """An Optuna callback recording (value, seconds since start) per trial."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.hist = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, study, trial) -> None:
        self.hist.append((trial.value, self.elapsed()))


# LightGBM's parameters as (kind, low, high, log), the cells and the Optuna loop made from it:
# the first 3 are the default search, all 8 the ones FLAML tunes (its max_bin left out,
# subsample in; ``--lgbm-params 8``)
LGBM_PARAMS = {"n_estimators": ("int", 20, 500, True), "learning_rate": ("float", 1e-3, 0.3, True),
         "num_leaves": ("int", 4, 128, True), "min_child_samples": ("int", 2, 100, True),
         "colsample_bytree": ("float", 0.3, 1.0, False), "subsample": ("float", 0.5, 1.0, False),
         "reg_alpha": ("float", 1e-3, 10.0, True), "reg_lambda": ("float", 1e-3, 10.0, True)}


def lgbm_space(params: int) -> tuple[dict, dict]:
    """The first ``params`` parameters of :data:`LGBM_PARAMS`, and the fixed arguments they need."""
    space = dict(list(LGBM_PARAMS.items())[:params])
    return space, ({"subsample_freq": 1} if "subsample" in space else {})


def lgbm_cell(params: int = 3) -> str:
    space, fixed = lgbm_space(params)
    return ("from lightgbm import LGBMClassifier\nmodel = LGBMClassifier(\n" + "".join(
        f"    {k}=hp.{kind}({lo}, {hi}{', log=True' if log else ''}),\n"
        for k, (kind, lo, hi, log) in space.items())
        + "    " + ", ".join([f"{k}={v}" for k, v in fixed.items()]
                          + ["n_jobs=1", "verbose=-1", "random_state=0"]) + ",\n)\n")


LGBM_CELL = lgbm_cell(3)


def lgbm_objective(X, y, cv, params=3):
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import cross_val_score

    space, fixed = lgbm_space(params)

    def objective(t):
        kw = {k: (t.suggest_int if kind == "int" else t.suggest_float)(k, lo, hi, log=log)
              for k, (kind, lo, hi, log) in space.items()}
        m = LGBMClassifier(**kw, **fixed, n_jobs=1, verbose=-1, random_state=0)
        return cross_val_score(m, X, y, cv=cv).mean()

    return objective


def _flaml_points(X, y, cv, seconds, seed, path):
    """FLAML restricted to LightGBM on the same folds for ``seconds``: per trial (accuracy,
    seconds since its start), from its own log of every trial (``log_type="all"``: its
    default log keeps only the trials that improved, whose count is not the trials run)."""
    import json

    from flaml import AutoML

    AutoML().fit(X, y, task="classification", estimator_list=["lgbm"], metric="accuracy",
                 eval_method="cv", split_type=cv, time_budget=seconds, seed=seed, verbose=0,
                 log_file_name=path, log_type="all")
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [(1 - r["validation_loss"], r["wall_clock_time"]) for r in rows if "validation_loss" in r]


METHODS = {"auto": "aimauto_nb auto + warm start", "cold": "aimauto_nb auto, no warm start",
           "tpe": "Optuna TPE", "hub": "OptunaHub AutoSampler",
           "flaml": "FLAML, LightGBM only (TPE's wall time or --flaml-seconds)"}


def _lgbm_run(method, X, y, cv, seed, trials, params, budget):
    """One method's per-trial (accuracy, seconds since its start) and wall seconds."""
    import tempfile

    t0 = time.perf_counter()
    if method in ("auto", "cold"):
        s = an.search(lgbm_cell(params), data=(X, y), cv=cv, trials=trials, seed=seed,
                      warm_start=method == "auto", display=False).wait()
        first = s.trials[0].started.timestamp()
        return ([(r.values["accuracy"], r.started.timestamp() - first + (r.duration or 0))
                 for r in s.trials if r.state == "complete"], time.perf_counter() - t0)
    if method == "flaml":
        with tempfile.TemporaryDirectory() as tmp:
            points = _flaml_points(X, y, cv, budget, seed, f"{tmp}/flaml.log")
        return points, time.perf_counter() - t0
    sampler = (optuna.samplers.TPESampler(seed=seed) if method == "tpe"
               else hub_auto_sampler(seed))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    clock = Clock()
    study.optimize(lgbm_objective(X, y, cv, params), n_trials=trials, callbacks=[clock])
    return clock.hist, clock.elapsed()


def lightgbm_rows(seeds, trials=60, datasets=("breast_cancer", "digits"), params=3,
                  methods=("auto", "tpe", "hub", "flaml"), record=None, flaml_seconds=None):
    """Trials and seconds to the seed's target (best any method reached - 0.5 points), and
    the best after ``trials``, on the same stratified 5 folds for every method.

    ``record``: a JSON-lines file of runs; a run found there (same data, seed, trials,
    parameters and method) is read instead of run again, and every new run is appended, so
    the anchors can be measured once and ``auto`` again after a change (``--methods auto``).
    ``flaml_seconds`` caps FLAML's budget (otherwise TPE's wall time on the same case)."""
    import json
    from pathlib import Path

    from sklearn.model_selection import StratifiedKFold

    done = {}
    if record and Path(record).exists():
        for line in Path(record).read_text().splitlines():
            r = json.loads(line)
            done[(r["data"], r["seed"], r["trials"], r["params"], r["method"])] = r
    print(f"\n## LightGBM ({params} parameters), 5-fold stratified CV accuracy, {trials} trials "
          "(same folds)\n")
    print("| data | method | seed | best | trials to target | seconds to target | wall s |")
    print("|---|---|---|---|---|---|---|")
    ratios = {}
    for dname in datasets:
        X, y = _fold_data(dname)
        for seed in seeds:
            cv = StratifiedKFold(5, shuffle=True, random_state=seed)
            runs = {}
            for method in ("tpe", *(m for m in METHODS if m != "tpe")):
                key = (dname, seed, trials, params, method)
                if key not in done and method in methods:
                    if method == "flaml":
                        try:
                            import flaml  # noqa: F401
                        except ImportError:
                            continue
                        if "tpe" not in runs:
                            raise SystemExit("FLAML runs for TPE's wall time: run or record tpe too")
                    budget = runs.get("tpe", (None, None))[1]
                    if method == "flaml" and flaml_seconds is not None:
                        budget = min(budget, flaml_seconds)
                    hist, wall = _lgbm_run(method, X, y, cv, seed, trials, params, budget)
                    done[key] = {"data": dname, "seed": seed, "trials": trials, "params": params,
                                 "method": method, "hist": hist, "wall": wall,
                                 **({"budget": budget} if method == "flaml" else {})}
                    if record:
                        with open(record, "a") as f:
                            f.write(json.dumps(done[key]) + "\n")
                if key in done:
                    runs[method] = (done[key]["hist"], done[key]["wall"])
            target = max(max(v for v, _ in hist) for hist, _ in runs.values()) - 0.005
            for method, (hist, wall) in runs.items():
                best = max(v for v, _ in hist[:trials])
                reach = next(((i, t) for i, (v, t) in enumerate(hist, 1) if v >= target), None)
                ratios.setdefault(method, []).append(reach)
                shown = ("never", "never") if reach is None else (reach[0], f"{reach[1]:.1f}")
                print(f"| {dname} | {METHODS[method]} | {seed} | {best:.4f} | {shown[0]} | "
                      f"{shown[1]} | {wall:.1f} |", flush=True)
    ours = ratios.pop("auto", None)
    if ours is None or len(ours) != len(datasets) * len(seeds):
        return
    print("\nmedian over data sets and seeds of (anchor's trials or seconds to target) / "
          "(auto's); a run that never reached it counts as its whole budget\n")
    print("| anchor | trials ratio | seconds ratio |\n|---|---|---|")
    anchors = {m: r for m, r in ratios.items() if len(r) == len(ours)}
    for method, reach in anchors.items():
        print(f"| {METHODS[method]} | " + " | ".join(_median_ratios(ours, reach, reach, trials))
              + " |", flush=True)
    picked = [m for m in anchors if m != "cold"]  # the anchors a user would pick instead
    if len(picked) > 1:
        def soonest(k):  # per case, the anchor's reach that is soonest in trials (0) or seconds (1)
            return [min((anchors[m][i] for m in picked), key=lambda b: (b is None, b[k] if b else 0))
                    for i in range(len(ours))]

        print(f"| the soonest of {', '.join(picked)} per case | "
              + " | ".join(_median_ratios(ours, soonest(0), soonest(1), trials)) + " |", flush=True)


def _median_ratios(ours, by_trials, by_seconds, trials) -> tuple[str, str]:
    """Median over cases of the anchor's trials (seconds) to target over auto's, as text."""
    tr = [(b[0] if b else trials) / (a[0] if a else trials) for a, b in zip(ours, by_trials)]
    sr = [(b[1] if b else math.inf) / (a[1] if a else math.inf)
          for a, b in zip(ours, by_seconds) if a or b]
    return f"{statistics.median(tr):.2f}", f"{statistics.median(sr) if sr else math.nan:.2f}"


def _curve(points, target):
    """(best, trials, folds, seconds) to ``target`` from per-trial (value or None, folds,
    seconds at its end), in trial order; None where the target was never reached."""
    best, folds, reach = -1.0, 0, None
    for i, (value, cost, when) in enumerate(points, 1):
        folds += cost
        if value is not None:
            best = max(best, value)
            if reach is None and value >= target:
                reach = (i, folds, when)
    return best, reach


def _search_points(s):
    """Per trial of a CV search: (accuracy or None, folds fitted, seconds since the start)."""
    t0 = s.trials[0].started.timestamp()
    return [(r.values["accuracy"] if r.state == "complete" else None,
             5 if r.state == "complete" else len(r.intermediate),
             r.started.timestamp() - t0 + (r.duration or 0)) for r in s.trials]


def _replay(seq, pruner):
    """Folds spent and the best accuracy kept when ``pruner`` decides on the recorded fold
    means ``seq`` (per complete trial: running means after folds 1..K-1, then the score)."""
    folds, kept = 0, []
    for n, vals in enumerate(seq):
        means = vals[:-1]
        stop = next((k for k, m in enumerate(means, 1) if pruner.decide(n, m, k, True)), None)
        if stop is None:
            folds += len(vals)
            kept.append(vals[-1])
            pruner.observe(n, dict(enumerate(means, 1)))
        else:
            folds += stop
    return folds, max(kept)


def _fold_data(name):
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    if name == "breast_cancer":
        return load_breast_cancer(return_X_y=True)
    if name == "digits":
        return load_digits(return_X_y=True)
    if name == "generated_3000":  # a held-out check: neither judged on nor learned from
        return make_classification(3000, 20, n_informative=8, n_classes=3, flip_y=0.03,
                                   random_state=1)
    return make_classification(20_000, 40, n_informative=12, random_state=0)  # "generated"


def folds_rows(seeds, trials=60, datasets=("breast_cancer", "digits", "generated")):
    """CV fold pruning: LightGBM, 5-fold stratified CV accuracy. auto with ``pruner="auto"``
    (reports after each fold) vs auto without pruning vs an Optuna TPE loop; the unpruned
    arm runs with a pruner that never prunes (start-up never ends: the same trials as
    ``pruner="none"``, four reports a trial), so its fold means can be replayed under the
    candidate rules on exactly the same configurations. The target is the seed's best over
    the three arms minus 0.5 points; "folds" counts the folds actually fitted."""
    from sklearn.model_selection import StratifiedKFold

    from aimauto_nb.core.pruning import FOLD_WARMUP, AutoPruner

    rules = {"median from fold 1": AutoPruner,
             f"median from fold {FOLD_WARMUP} (shipped)": lambda: AutoPruner(warmup_steps=FOLD_WARMUP),
             "median from fold 3": lambda: AutoPruner(warmup_steps=3)}
    print(f"\n## CV fold pruning: LightGBM, 5-fold stratified CV accuracy, {trials} trials")
    for dname in datasets:
        X, y = _fold_data(dname)
        print(f"\n### {dname}\n")
        print("| method | seed | best | trials to target | folds to target | folds | "
              "wall seconds | wall to target |")
        print("|---|---|---|---|---|---|---|---|")
        replays = []
        for seed in seeds:
            runs = {}
            common = dict(data=(X, y), cv=5, trials=trials, seed=seed, storage=False, display=False)
            t0 = time.perf_counter()
            s = an.search(LGBM_CELL, pruner="auto", **common).wait()
            runs["auto, fold pruning"] = (_search_points(s), time.perf_counter() - t0)
            t0 = time.perf_counter()
            s = an.search(LGBM_CELL, pruner=AutoPruner(startup=10 ** 9), **common).wait()
            runs["auto, no pruning"] = (_search_points(s), time.perf_counter() - t0)
            replays.append((seed, [[r.intermediate[k] for k in sorted(r.intermediate)]
                                   + [r.values["accuracy"]] for r in s.trials
                                   if r.state == "complete"]))
            cv = StratifiedKFold(5, shuffle=True, random_state=seed)
            study = optuna.create_study(direction="maximize",
                                        sampler=optuna.samplers.TPESampler(seed=seed))
            clock = Clock()
            study.optimize(lgbm_objective(X, y, cv), n_trials=trials, callbacks=[clock])
            runs["Optuna TPE"] = ([(v, 5, t) for v, t in clock.hist], clock.elapsed())
            target = max(v for pts, _ in runs.values() for v, _, _ in pts if v is not None) - 0.005
            for method, (points, wall) in runs.items():
                best, reach = _curve(points, target)
                i, f, when = reach if reach else ("never",) * 3
                when = when if isinstance(when, str) else f"{when:.1f}"
                print(f"| {method} | {seed} | {best:.4f} | {i} | {f} | "
                      f"{sum(c for _, c, _ in points)} | {wall:.1f} | {when} |", flush=True)
        print(f"\n{dname}: the unpruned trials replayed under each rule (folds spent, best kept)\n")
        print("| seed | best (all trials) | " + " | ".join(rules) + " |")
        print("|---|---|" + "---|" * len(rules))
        for seed, seq in replays:
            best = max(v[-1] for v in seq)
            cells = []
            for make in rules.values():
                folds, kept = _replay(seq, make())
                cells.append(f"{folds} folds, {kept:.4f}" + (f" (−{(best - kept) * 100:.2f} pt)"
                                                             if kept < best else ""))
            print(f"| {seed} | {best:.4f} | " + " | ".join(cells) + " |", flush=True)


def reporting_rows(trials=20, repeats=3):
    """What reporting costs on a cell that is never pruned: the same LightGBM trials (TPE,
    same seed, so the same configurations) with no pruner and with an auto pruner whose
    start-up never ends, so every report pays the decision and the storage write but none
    prunes. Trial time summed over the search; medians of ``repeats`` interleaved runs."""
    from sklearn.datasets import load_digits

    from aimauto_nb.core.pruning import AutoPruner

    X, y = load_digits(return_X_y=True)
    cell = LGBM_CELL.replace("hp.int(20, 500, log=True)", "hp.int(50, 300, log=True)")
    times = {"no pruner": [], "auto pruner, never pruning": []}
    reports = 0
    for _ in range(repeats):
        for label, pruner in (("no pruner", None), ("auto pruner, never pruning",
                                                     AutoPruner(startup=10 ** 9))):
            s = an.search(cell, data=(X, y), trials=trials, strategy="tpe", seed=0, pruner=pruner,
                          warm_start=False, storage=False, display=False).wait()
            times[label].append(sum(r.duration for r in s.trials))
            if pruner is not None:
                reports = statistics.median(len(r.intermediate) for r in s.trials)
    base = statistics.median(times["no pruner"])
    print(f"\n## Reporting overhead (LightGBM on digits, 20 % holdout, {trials} trials, "
          f"median of {repeats})\n")
    print("| run | trial seconds (sum) | ratio |")
    print("|---|---|---|")
    for label, ts in times.items():
        print(f"| {label} | {statistics.median(ts):.2f} | {statistics.median(ts) / base:.3f} |")
    print(f"\nreports per trial (median): {reports:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="zdt,synthetic,lightgbm,reporting")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--zdt-trials", type=int, default=200)
    ap.add_argument("--lgbm-trials", type=int, default=60)
    ap.add_argument("--datasets", default="breast_cancer,digits")
    ap.add_argument("--lgbm-params", type=int, choices=(3, 8), default=3)
    ap.add_argument("--methods", default="auto,tpe,hub,flaml",
                    help="LightGBM rows: which of auto,cold,tpe,hub,flaml to run")
    ap.add_argument("--seed-list", help="LightGBM rows: these seeds (e.g. 1,2), not range(--seeds)")
    ap.add_argument("--record", help="LightGBM rows: JSON-lines file of runs, reused and appended")
    ap.add_argument("--flaml-seconds", type=float,
                    help="LightGBM rows: cap FLAML's budget (TPE's wall time) at this; a capped "
                         "run that never reaches the target counts as its capped budget")
    ap.add_argument("--fold-datasets", default="breast_cancer,digits,generated")
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    only = set(args.only.split(","))
    if "synthetic" in only:
        synthetic_rows(seeds)
    if "zdt" in only:
        zdt_rows(seeds, args.zdt_trials)
    if "lightgbm" in only:
        lightgbm_rows([int(x) for x in args.seed_list.split(",")] if args.seed_list else seeds,
                      args.lgbm_trials, tuple(args.datasets.split(",")), args.lgbm_params,
                      tuple(args.methods.split(",")), args.record, args.flaml_seconds)
    if "reporting" in only:
        reporting_rows()
    if "folds" in only:
        folds_rows(seeds, args.lgbm_trials, tuple(args.fold_datasets.split(",")))


if __name__ == "__main__":
    main()
