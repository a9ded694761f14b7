"""Is the kernel usable while a search runs, and what does the live panel cost?

In a real kernel (jupyter_client), the execute-reply latency of ``1+1`` (30 times, 0.1 s
apart) while a search runs in the background, p50 / p95, next to the same kernel idle:

- LightGBM trials on the thread executor (LightGBM releases the GIL), quiet and with panel;
- fast decision-tree trials (several a second: the panel's charts update at every refresh),
  quiet and with panel;
- a pure-Python model on the process executor (default jobs: cores - 1), and the same on
  the thread executor to show why the process executor is the one for such trials.

Then the panel's cost: wall time of the same 40-trial LightGBM search with the panel and
with ``--quiet`` (alternating, median of 3); and the kernel CPU time of one chart update at
500 trials (the browser-drawn charts' data set on the widget and sent to the front end,
one new trial per update) next to the matplotlib PNG redraw the panel did before.

Then long searches: 1000 and 3000 instant trials (random sampler, two metrics) with the
panel and with ``--quiet``: the widget comm traffic they cause (bytes and messages, as
:func:`tests.kernel.comm_traffic` counts them), the kernel's CPU time, and the p95 of
``1+1`` (polled every 0.1 s) while they run.

    python benchmarks/responsiveness.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kernel import Kernel, comm_traffic  # noqa: E402

STARTUP = """
%load_ext aimauto_nb
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
"""

LGBM = """
from lightgbm import LGBMClassifier
model = LGBMClassifier(n_estimators=hp.int(50, 300), learning_rate=hp.float(0.02, 0.3, log=True),
                       num_leaves=hp.int(8, 64), n_jobs=1, verbose=-1)
"""

TREE = """
from sklearn.tree import DecisionTreeClassifier
model = DecisionTreeClassifier(max_depth=hp.int(2, 12), min_samples_leaf=hp.int(1, 20))
"""

PURE_PYTHON = """
rounds = hp.int(150_000, 250_000)
acc = 0
for i in range(rounds):
    acc = (acc * 31 + i) % 1_000_003
score = (acc % 997) / 997 + hp.float(0, 0.01)
"""

PROBES = 30

CHART_COST = """
import random, time, statistics
from aimauto_nb.metrics import METRICS
from aimauto_nb.results import Results, TrialRecord
from aimauto_nb.notebook.charts import ParetoCharts
from aimauto_nb.notebook.panel import _png
from aimauto_nb.notebook.plots import history_figure, pareto_figure
rng = random.Random(0)
metrics = [METRICS["accuracy"], METRICS["size"], METRICS["latency"]]
res = Results(metrics)
def snap():
    return res.snapshot()
def add(n):
    params = {"n_estimators": rng.randint(50, 500), "learning_rate": rng.random(),
              "num_leaves": rng.randint(8, 128), "boosting": rng.choice(["gbdt", "dart"])}
    values = {"accuracy": rng.random(), "size": 10 ** rng.uniform(3, 6),
              "latency": 10 ** rng.uniform(-3, 0)}
    res.put(TrialRecord(n, "complete", params, values))
for n in range(START):
    add(n)
charts = ParetoCharts(metrics)
charts.update(snap())
update = []
for n in range(START, END):
    add(n)
    s = snap()  # the panel takes one snapshot per refresh for everything; not counted
    t = time.process_time()
    charts.update(s)
    update.append(time.process_time() - t)
png = []
for _ in range(5):
    s = snap()
    t = time.process_time()
    _png(pareto_figure(s, size=(4.2, 3.0), layout=None))
    _png(history_figure(s, size=(3.6, 3.0), layout=None))
    png.append(time.process_time() - t)
print(statistics.median(update) * 1000, max(update) * 1000, statistics.median(png) * 1000, len(charts.rows),
      len(charts.front))
"""


def _percentiles(values):
    values = sorted(values)
    q = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values) * 1000, q[18] * 1000


def probe(k: Kernel) -> tuple[float, float]:
    times = []
    for _ in range(PROBES):
        times.append(k.run("1+1", check=True).seconds)
        time.sleep(0.1)
    return _percentiles(times)


def latency_rows(k: Kernel):
    rows = [("kernel idle (reference)", *probe(k))]
    cases = [
        ("LightGBM, thread executor, --quiet", "--data X y --timeout 120 --trials 100000 --quiet", LGBM),
        ("LightGBM, thread executor, live panel", "--data X y --timeout 120 --trials 100000", LGBM),
        ("decision trees (fast trials), --quiet",
         "--data X y --timeout 120 --trials 100000 --metrics accuracy,size --quiet", TREE),
        ("decision trees (fast trials), live panel",
         "--data X y --timeout 120 --trials 100000 --metrics accuracy,size", TREE),
        ("pure Python, process executor (cores-1)",
         "--timeout 120 --trials 100000 --quiet --executor process",
         PURE_PYTHON),
        ("pure Python, thread executor", "--timeout 120 --trials 100000 --quiet", PURE_PYTHON),
    ]
    for i, (label, opts, cell) in enumerate(cases):
        name = f"lat{i}"
        k.run(f"%%aimsearch {opts} --name {name}\n{cell}", check=True)
        time.sleep(3.0)  # past worker start-up: measure the steady state
        p50, p95 = probe(k)
        done = k.run(f"%aimstop {name}\n{name}.wait(60); print(len({name}.trials))", check=True)
        rows.append((label, p50, p95, int(done.stdout.split()[-1])))
        k.drain(1.0)
    return rows


def panel_cost(k: Kernel, repeats: int = 3):
    walls = {"panel": [], "quiet": []}
    for r in range(repeats):
        for mode in ("quiet", "panel") if r % 2 else ("panel", "quiet"):
            flag = "--quiet" if mode == "quiet" else ""
            k.run(f"%%aimsearch --data X y --trials 40 --seed {r} {flag} --name cost --wait\n{LGBM}",
                  timeout=600, check=True)
            out = k.run("print(cost.elapsed)", check=True)
            walls[mode].append(float(out.stdout))
            k.drain(1.0)
    return statistics.median(walls["panel"]), statistics.median(walls["quiet"])


def chart_cost(k: Kernel, trials: int = 500, updates: int = 50):
    """Kernel CPU ms per chart update (median, max) over the last ``updates`` of ``trials``,
    the PNG redraw's median, and the rows and front size at the end."""
    code = f"START, END = {trials - updates}, {trials}\n" + CHART_COST
    out = k.run(code, timeout=300, check=True)
    med, worst, png, rows, front = out.stdout.split()
    return float(med), float(worst), float(png), int(rows), int(front)


INSTANT = "a = hp.float(0, 1)\nb = hp.float(0, 1)\nscore = {'a': a, 'b': b}\n"


def traffic(k: Kernel, trials: int, quiet: bool):
    """(comm MB, comm messages, kernel CPU s, search wall s, 1+1 p95 ms) of one search."""
    k.stray.clear()
    k.run("import time as _t; _cpu = _t.process_time()", check=True)
    flag = "--quiet" if quiet else ""
    ex = k.run(f"%%aimsearch --trials {trials} --strategy random --metrics a:max,b:min {flag} "
               f"--name big\n{INSTANT}", check=True)
    latency = []
    while True:
        probe_ = k.run("print(big.running)", check=True)
        latency.append(probe_.seconds)
        if "False" in probe_.stdout:
            break
        time.sleep(0.1)
    out = k.run("big.wait(); print(_t.process_time() - _cpu, big.elapsed)", check=True)
    k.drain(2.0)
    size, count = comm_traffic(ex.messages + k.stray, ex.msg_id)
    cpu, wall = map(float, out.stdout.split())
    return size / 1e6, count, cpu, wall, _percentiles(latency)[1] if len(latency) > 1 else 0.0


def traffic_rows(k: Kernel):
    return [(n, quiet, *traffic(k, n, quiet)) for n in (1000, 3000) for quiet in (False, True)]


def _traffic_table(rows) -> None:
    print("\nlong searches: instant trials (random sampler, 2 metrics), panel vs --quiet\n")
    print("| trials | view | comm MB | comm messages | kernel CPU s | search s | 1+1 p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for n, quiet, mb, count, cpu, wall, p95 in rows:
        print(f"| {n} | {'--quiet' if quiet else 'panel'} | {mb:.3f} | {count} | {cpu:.1f} | "
              f"{wall:.1f} | {p95:.0f} |")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="panel-cost repeats (median)")
    ap.add_argument("--cost-only", action="store_true", help="only the panel-cost tables")
    ap.add_argument("--traffic-only", action="store_true", help="only the long-search table")
    opts = ap.parse_args()
    if opts.traffic_only:
        with Kernel(STARTUP) as k:
            _traffic_table(traffic_rows(k))
        return
    with Kernel(STARTUP) as k:
        long_rows = traffic_rows(k)
        chart = chart_cost(k)
        rows = [] if opts.cost_only else latency_rows(k)
        panel, quiet = panel_cost(k, opts.repeats)
    if rows:
        _latency_table(rows)
    _traffic_table(long_rows)
    med, worst, png, n, front = chart
    print(f"\nchart update: kernel CPU ms at {n} trials, 3 metrics ({front} on the front), "
          "one new trial per update\n")
    print("| browser charts: update median | max | PNG redraw (before) median | ratio |")
    print("|---|---|---|---|")
    print(f"| {med:.2f} | {worst:.2f} | {png:.1f} | {png / med:.0f}x |")
    print(f"\npanel cost: 40 LightGBM trials on digits, wall seconds (median of {opts.repeats})\n")
    print("| live panel | --quiet | ratio |")
    print("|---|---|---|")
    print(f"| {panel:.2f} | {quiet:.2f} | {panel / quiet:.3f}x |")


def _latency_table(rows) -> None:
    print(f"\nexecute-reply latency of `1+1` while a search runs ({PROBES} probes, 0.1 s apart)\n")
    print(f"| {'case':<42} | {'p50 ms':>7} | {'p95 ms':>7} | {'trials run':>10} |")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 9}|{'-' * 12}|")
    for label, p50, p95, *n in rows:
        print(f"| {label:<42} | {p50:>7.1f} | {p95:>7.1f} | {(n[0] if n else ''):>10} |")


if __name__ == "__main__":
    main()
