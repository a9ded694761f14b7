"""``strategy="auto"`` against Optuna's default TPE on the BBOB suite (coco-experiment's
``bbob``, f1-f24, instance 1): the best value found after ``--trials`` evaluations, per
function and seed, and wins / ties / losses (a win: a best value lower by more than 0.1 % of
1 + its size; cocoex does not expose the optimum, so regrets are not printed).
Trial-indexed, so load does not move it; sampler seconds are reported beside.
``coco-experiment`` is installed for the benchmark only.

    nice python benchmarks/bbob.py [--dim 5] [--trials 100] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import time

import optuna

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
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    space = analyze("\n".join(f"x{i} = hp.float(-5, 5)" for i in range(a.dim)) + "\nscore = 0\n")
    methods = {"auto": lambda s: AutoSampler(space, 1, seed=s),
               "TPE default": lambda s: optuna.samplers.TPESampler(seed=s)}
    suite = cocoex.Suite("bbob", "", f"dimensions:{a.dim} instance_indices:1")
    tally = {"win": 0, "tie": 0, "loss": 0}
    secs = {m: 0.0 for m in methods}
    print("| function | seed | auto best | TPE best | verdict |\n|---|---|---|---|---|")
    for problem in suite:
        for seed in seeds:
            found = {}
            for m, make in methods.items():
                best, spent = run(problem, make(seed), a.trials)
                found[m], secs[m] = best, secs[m] + spent
            f_a, f_t = found["auto"], found["TPE default"]
            tol = 1e-3 * (1 + min(abs(f_a), abs(f_t)))
            verdict = "win" if f_a < f_t - tol else "loss" if f_t < f_a - tol else "tie"
            tally[verdict] += 1
            print(f"| {problem.id.split('_')[1]} | {seed} | {f_a:.6g} | {f_t:.6g} | {verdict} |",
                  flush=True)
    print(f"\nauto vs TPE, {a.dim}-D, {a.trials} evaluations: {tally['win']} wins, "
          f"{tally['tie']} ties, {tally['loss']} losses; sampler seconds: "
          + ", ".join(f"{m} {s:.0f}" for m, s in secs.items()))


if __name__ == "__main__":
    main()
