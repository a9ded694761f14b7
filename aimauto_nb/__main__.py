"""``python -m aimauto_nb demo``: a real search on the embedded defaults, printed as text."""

from __future__ import annotations

import argparse
import sys

DEMO_CELL = """\
from sklearn.ensemble import HistGradientBoostingClassifier
model = HistGradientBoostingClassifier(
    max_iter=hp.int(10, 300, log=True),
    learning_rate=hp.float(0.01, 0.5, log=True),
    max_leaf_nodes=hp.int(4, 64, log=True),
    l2_regularization=hp.float(1e-6, 1.0, log=True),
    random_state=0,
)
"""


def demo(trials: int, jobs: int, seed: int) -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    import aimauto_nb as an

    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    print(f"Searching {trials} trials (breast_cancer, accuracy vs size vs latency, {jobs} jobs)")
    print("The first few are warm-start trials: configurations shipped with aimauto_nb (strong on "
          "other data sets),\ntried before the sampler's own; the status line counts them.\n")
    s = an.search(DEMO_CELL, data=(X_tr, y_tr), metrics="accuracy,size,latency", trials=trials,
                  jobs=jobs, seed=seed, display=True)
    s.wait()
    print(f"\nvalidation: {s.protocol}; {len(s.pareto)} Pareto-optimal trials:")
    ms = s.metrics
    print("  " + f"{'trial':>5}" + "".join(f" {m.heading:>14}" for m in ms))
    for r in sorted(s.pareto, key=lambda r: -r.values["accuracy"]):
        print("  " + f"{r.number:>5}" + "".join(f" {m.format(r.values[m.name]):>14}" for m in ms))
    test_acc = s.best_model.score(X_te, y_te)
    print(f"\nbest trial {s.best.number}: held-out test accuracy {test_acc:.4f}")
    print("\nbest configuration as code:\n")
    print(s.code())
    if jobs > 1:
        print(f"seed={seed} fixes the data split and the sampler's random draws, not the search: "
              f"with {jobs} jobs the\norder trials finish in (and the measured latency) steers what "
              "the sampler asks next,\nso the best trial can differ from run to run.\n")
    print("Next: the live panel in JupyterLab: .venv/bin/jupyter lab notebooks/01-quickstart.ipynb")
    print("      README.md, 'In a notebook' (the magics) and 'Compressing a model' (shrink the winner)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="aimauto-nb", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run a real search on the embedded defaults")
    d.add_argument("--trials", type=int, default=30)
    d.add_argument("--jobs", type=int, default=2)
    d.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return demo(args.trials, args.jobs, args.seed)


if __name__ == "__main__":
    sys.exit(main())
