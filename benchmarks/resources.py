"""Do trials get their share of the machine? The same search (HistGradientBoosting,
LightGBM, optionally a torch MLP; thread workers) timed three ways, each in a fresh
process so the environment is read before the libraries load:

- ``ours``: the defaults (each trial ``cores // jobs`` threads, :mod:`aimauto_nb.runtime.resources`);
- ``by hand``: ``threads=False`` and ``OMP_NUM_THREADS`` etc. set to ``cores // jobs``
  before Python starts (what a user does by hand);
- ``none``: ``threads=False`` and no environment (the oversubscribed search).

Rounds are interleaved and the median wall time per search reported; target: ``ours``
within 1.1x of ``by hand`` for ``jobs=2``, and no change for ``jobs=1``.

    nice -n 10 python benchmarks/resources.py [--rounds 3] [--trials 8] [--cells hgb,lightgbm,torch]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CELLS = {
    "hgb": ("from sklearn.ensemble import HistGradientBoostingClassifier\n"
            "model = HistGradientBoostingClassifier(max_iter=hp.int(40, 80), "
            "learning_rate=hp.float(0.05, 0.3, log=True), max_leaf_nodes=hp.int(15, 63), "
            "random_state=0)\n"),
    "lightgbm": ("from lightgbm import LGBMClassifier\n"
                 "model = LGBMClassifier(n_estimators=hp.int(40, 80), "
                 "num_leaves=hp.int(15, 63), learning_rate=hp.float(0.05, 0.3, log=True), "
                 "verbose=-1, random_state=0)\n"),
    "torch": ("import torch\ntorch.manual_seed(0)\nXt = torch.tensor(X, dtype=torch.float32)\n"
              "yt = torch.tensor(y)\nwidth = hp.int(64, 256)\n"
              "net = torch.nn.Sequential(torch.nn.Linear(Xt.shape[1], width), torch.nn.ReLU(),"
              " torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))\n"
              "opt = torch.optim.Adam(net.parameters(), lr=hp.float(1e-3, 1e-2, log=True))\n"
              "for _ in range(60):\n"
              "    opt.zero_grad()\n"
              "    loss = torch.nn.functional.cross_entropy(net(Xt), yt)\n"
              "    loss.backward()\n    opt.step()\n"
              "score = float((net(Xt).argmax(1) == yt).float().mean())\n"),
}

CHILD = """
import json, sys, time
import numpy as np
from sklearn.datasets import make_classification
import aimauto_nb as an
cell, jobs, trials, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
X, y = make_classification(n_samples=6000, n_features=30, n_informative=12, random_state=0)
X = X.astype(np.float32)
if "import torch" in cell:
    import torch  # imported before the search, as a notebook would
    kw = dict(data=None, metrics="score:max", namespace={"X": X, "y": y})
else:
    kw = dict(data=(X, y), valid=0.25)
t0 = time.perf_counter()
s = an.search(cell, trials=trials, jobs=jobs, seed=0, storage=":memory:", display=False,
              warm_start=False, threads=False if threads == "off" else None, **kw).wait()
wall = time.perf_counter() - t0
assert all(r.state == "complete" for r in s.trials), [r.error for r in s.trials]
print(json.dumps({"wall": wall, "status": s.status_line()}))
"""


def run_one(cell: str, jobs: int, trials: int, mode: str, share: int) -> float:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(k, None)
        if mode == "by hand":
            env[k] = str(share)
    out = subprocess.run([sys.executable, "-c", CHILD, cell, str(jobs), str(trials),
                          "on" if mode == "ours" else "off"],
                         env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["wall"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--cells", default="hgb,lightgbm", help="of hgb, lightgbm, torch")
    ap.add_argument("--jobs", default="2,1")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    cells = args.cells.split(",")
    modes = ("ours", "by hand", "none")
    times: dict[tuple, list[float]] = {}
    for _ in range(args.rounds):
        for name in cells:
            for jobs in map(int, args.jobs.split(",")):
                for mode in modes:
                    t = run_one(CELLS[name], jobs, args.trials, mode, max(1, cores // jobs))
                    times.setdefault((name, jobs, mode), []).append(t)
                    print(f"  {name} jobs={jobs} {mode}: {t:.2f} s", flush=True)
    print(f"{cores} cores, {args.trials} trials per search, median of {args.rounds} rounds (s)")
    print(f"{'cell':10} {'jobs':>4} {'ours':>8} {'by hand':>8} {'none':>8} {'ours/hand':>10}")
    for name in cells:
        for jobs in map(int, args.jobs.split(",")):
            med = {m: statistics.median(times[(name, jobs, m)]) for m in modes}
            print(f"{name:10} {jobs:>4} {med['ours']:8.2f} {med['by hand']:8.2f} "
                  f"{med['none']:8.2f} {med['ours'] / med['by hand']:10.2f}")


if __name__ == "__main__":
    main()
