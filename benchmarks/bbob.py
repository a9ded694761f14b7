"""``strategy="auto"`` against Optuna's default TPE and OptunaHub's AutoSampler (the Optuna
team's automatic sampler, vendored in ``benchmarks/vendor/``: ``optunahub.load_module``
cannot reach the registry here) on the BBOB suite (coco-experiment's ``bbob``, f1-f24,
instance 1): the best value found after ``--trials`` evaluations, per function and seed, and
wins / ties / losses of auto against each (a win: a best value lower by more than 0.1 % of
1 + its size; cocoex does not expose the optimum, so regrets are not printed).
Trial-indexed, so load does not move it; sampler seconds are reported beside. BBOB stands
for an expensive black box, so auto is told each evaluation takes ``--trial-seconds`` (1 s):
its GP budget is a share of the trials' time, and on instant evaluations it would be TPE.
``coco-experiment`` is installed for the benchmark only.

    nice python benchmarks/bbob.py [--dim 5] [--trials 100] [--seeds 0,1]
        [--anchors tpe,autosampler] [--trial-seconds 1]
"""

from __future__ import annotations

import argparse
import time

import optuna
from vendor import hub_auto_sampler  # benchmarks/vendor: this script's folder is on sys.path

from aimauto_nb.core.strategies import AutoSampler
from aimauto_nb.space.analysis import analyze

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(problem, sampler, trials: int) -> tuple[float, float]:
    """(best value, sampler seconds)"""
    study = optuna.create_study(sampler=sampler)
    lo, hi = problem.lower_bounds, problem.upper_bounds
    spent, best = 0.0, float("inf")
    for _ in range(trials):
        t0 = time.perf_counter()
        t = study.ask()
        x = [t.suggest_float(f"x{i}", float(lo[i]), float(hi[i])) for i in range(problem.dimension)]
        spent += time.perf_counter() - t0
        v = float(problem(x))
        best = min(best, v)
        study.tell(t, v)
    return best, spent


def main() -> None:
    import cocoex

    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=5)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--anchors", default="tpe,autosampler")
    ap.add_argument("--trial-seconds", type=float, default=1.0)
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    space = analyze("\n".join(f"x{i} = hp.float(-5, 5)" for i in range(a.dim)) + "\nscore = 0\n")
    methods = {"auto": lambda s: AutoSampler(space, 1, seed=s, trial_seconds=a.trial_seconds)}
    anchors = a.anchors.split(",")
    if "tpe" in anchors:
        methods["TPE default"] = lambda s: optuna.samplers.TPESampler(seed=s)
    if "autosampler" in anchors:
        methods["OptunaHub AutoSampler"] = hub_auto_sampler
    others = [m for m in methods if m != "auto"]
    suite = cocoex.Suite("bbob", "", f"dimensions:{a.dim} instance_indices:1")
    tally = {m: {"win": 0, "tie": 0, "loss": 0} for m in others}
    secs = {m: 0.0 for m in methods}
    print("| function | seed | " + " | ".join(f"{m} best" for m in methods) + " | "
          + " | ".join(f"vs {m}" for m in others) + " |")
    print("|---" * (2 + len(methods) + len(others)) + "|")
    for problem in suite:
        for seed in seeds:
            found = {}
            for m, make in methods.items():
                best, spent = run(problem, make(seed), a.trials)
                found[m], secs[m] = best, secs[m] + spent
            verdicts = []
            for m in others:
                f_a, f_o = found["auto"], found[m]
                tol = 1e-3 * (1 + min(abs(f_a), abs(f_o)))
                verdict = "win" if f_a < f_o - tol else "loss" if f_o < f_a - tol else "tie"
                tally[m][verdict] += 1
                verdicts.append(verdict)
            print(f"| {problem.id.split('_')[1]} | {seed} | "
                  + " | ".join(f"{found[m]:.6g}" for m in methods) + " | " + " | ".join(verdicts)
                  + " |", flush=True)
    print(f"\n{a.dim}-D, {a.trials} evaluations; sampler seconds: "
          + ", ".join(f"{m} {s:.0f}" for m, s in secs.items()))
    for m in others:
        t = tally[m]
        print(f"auto vs {m}: {t['win']} wins, {t['tie']} ties, {t['loss']} losses")


if __name__ == "__main__":
    main()
