"""What persisting by default costs, and how resume scales, old layout against new.

"new" is this tree (one journal file per study under .aimauto/studies/, the fault-safe
backend, incremental Results); "old" is another checkout of the package given with
``--old PATH`` (default /work/main: one .aimauto/journal.log for every study), run in its own
process so both are measured on the same machine in one run.

Rows:
(1) per-trial cost of a trivial cell (the storage is nearly all the work), random
    sampler, 200 trials, 3 runs in one folder (so the old layout's file also holds the
    earlier runs), in memory and in the default storage; median ms per trial;
(2) resume time: a study of 1000 / 3000 / 6000 complete trials, ``resume=True`` plus one
    trial, wall time of the call (open, replay, history into Results, one trial), after
    one in-memory search in the same process (imports are not counted);
(3) throughput over a 3000-trial search of instant trials: trials/s of the first and the
    last 500 (also in memory: what is left of the slope is Optuna's own ``ask``, which
    scans every trial for waiting ones on every storage).
Run: nice -n 10 python benchmarks/persistence.py [--old /work/main] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
TRIVIAL = "x = hp.float(0, 1)\nscore = -(x - 0.3) ** 2\n"


# ---------------------------------------------------------------- in the worker


def _per_trial(folder: str, storage: str, n: int, runs: int) -> dict:
    import aimauto_nb as an

    os.environ["AIMAUTO_DIR"] = folder
    kw = {"storage": False} if storage == "memory" else {}
    times = []
    for r in range(runs):
        t0 = time.perf_counter()
        an.search(TRIVIAL, trials=n, strategy="random", seed=r, metrics="s:max", name="cost",
                  display=False, **kw).wait()
        times.append((time.perf_counter() - t0) / n * 1000)
    return {"ms": statistics.median(times)}


def _build(path: str, n: int) -> dict:
    """A journal study 'r' with n complete trials: one search, then Optuna's add_trials."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    import aimauto_nb as an

    url = f"journal:///{path}"
    an.search(TRIVIAL, trials=1, strategy="random", metrics="s:max", name="r", storage=url,
              display=False).wait()
    study = optuna.load_study(study_name="r", storage=JournalStorage(JournalFileBackend(path)))
    dist = {"x": FloatDistribution(0.0, 1.0)}
    for i in range(0, n - 1, 500):
        study.add_trials([optuna.trial.create_trial(params={"x": (j % 997) / 997},
                                                    distributions=dist, value=-j * 1e-6)
                          for j in range(i, min(n - 1, i + 500))])
    return {"trials": len(study.trials)}


def _resume(path: str) -> dict:
    import aimauto_nb as an

    an.search(TRIVIAL, trials=1, strategy="random", metrics="s:max", name="warm", storage=False,
              display=False).wait()  # imports and thread start-up are not the resume's
    t0 = time.perf_counter()
    s = an.search(TRIVIAL, trials=1, strategy="random", metrics="s:max", name="r",
                  storage=f"journal:///{path}", resume=True, display=False).wait()
    return {"s": time.perf_counter() - t0, "trials": len(s.trials)}


def _throughput(folder: str, n: int, storage: str = "default") -> dict:
    import aimauto_nb as an

    os.environ["AIMAUTO_DIR"] = folder
    kw = {"storage": False} if storage == "memory" else {}
    s = an.search(TRIVIAL, trials=n, strategy="random", metrics="s:max", name="tp", display=False,
                  **kw)
    stamps = []
    while s.running:
        stamps.append((time.perf_counter(), s.counts()["complete"]))
        time.sleep(0.05)
    s.wait()
    stamps.append((time.perf_counter(), s.counts()["complete"]))

    def rate(lo, hi):
        t_lo = next(t for t, c in stamps if c >= lo)
        t_hi = next(t for t, c in stamps if c >= hi)
        return (hi - lo) / max(t_hi - t_lo, 1e-9)

    return {"first": rate(0, 500), "last": rate(n - 500, n)}


WORKERS = {"per_trial": _per_trial, "build": _build, "resume": _resume, "throughput": _throughput}


# ---------------------------------------------------------------- the driver


def run(tree: Path, job: str, *args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, __file__, "--worker", job, *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=900, cwd=tree)
    if out.returncode != 0:
        raise RuntimeError(f"{job} in {tree} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="/work/main")
    ap.add_argument("--quick", action="store_true", help="fewer trials (a smoke run)")
    ap.add_argument("--worker", nargs="+")
    a = ap.parse_args()
    if a.worker:
        job, *args = a.worker
        args = [int(x) if x.isdigit() else x for x in args]
        print(json.dumps(WORKERS[job](*args)))
        return
    trees = {"old": Path(a.old), "new": HERE}
    tmp = Path(tempfile.mkdtemp(prefix="aimauto-bench-"))
    n_cost, sizes, n_tp = (50, (300, 600), 1000) if a.quick else (200, (1000, 3000, 6000), 3000)

    print(f"(1) per-trial cost, trivial cell, {n_cost} trials, median of 3 runs in one folder")
    print(f"{'tree':5} {'storage':18} {'ms/trial':>9} {'+ms vs memory':>14}")
    cost = {}
    for tree_name, tree in trees.items():
        mem = run(tree, "per_trial", tmp / f"{tree_name}-mem", "memory", n_cost, 3)["ms"]
        disk = run(tree, "per_trial", tmp / f"{tree_name}-disk", "default", n_cost, 3)["ms"]
        cost[tree_name] = disk - mem
        print(f"{tree_name:5} {'in memory':18} {mem:9.2f} {0:14.2f}")
        print(f"{tree_name:5} {'default storage':18} {disk:9.2f} {disk - mem:14.2f}")
    print(f"new layout vs old: {cost['new'] - cost['old']:+.2f} ms per trial (target <= +0.5)")

    print("\n(2) resume=True + 1 trial on a journal study of n complete trials")
    print(f"{'n':>6} {'old s':>8} {'new s':>8}")
    for n in sizes:
        path = tmp / f"r{n}.log"
        run(HERE, "build", path, n)
        row = {name: run(tree, "resume", path)["s"] for name, tree in trees.items()}
        print(f"{n:6d} {row['old']:8.2f} {row['new']:8.2f}")

    print(f"\n(3) a {n_tp}-trial search of instant trials, trials/s")
    print(f"{'tree':5} {'first 500':>10} {'last 500':>10}")
    for tree_name, tree in trees.items():
        tp = run(tree, "throughput", tmp / f"{tree_name}-tp", n_tp)
        print(f"{tree_name:5} {tp['first']:10.0f} {tp['last']:10.0f}")
    tp = run(HERE, "throughput", tmp / "mem-tp", n_tp, "memory")
    print(f"{'new, in memory (Optuna alone)':5} {tp['first']:10.0f} {tp['last']:10.0f}")


if __name__ == "__main__":
    main()
