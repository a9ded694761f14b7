"""Searching a PyTorch sequence model (the task of ``notebooks/05-sequence.ipynb``: sort six
digits, LSTM / GRU / Transformer with conditional parameters), then compressing the winner.

Table 1: best validation sequence accuracy after N trials and the wall time to first reach
the best-1 point (the best over all rows, minus 0.01), for ``pruner="auto"``, ``"median"``,
no pruning, and a plain Optuna ask/tell loop over the same training code (same TPE seed, no
pruning). Table 2: the winner (best of the auto row) before and after int8 quantization
(``compress`` and, side by side, torch.ao's dynamic int8): size (bytes of the saved
state_dict, packed int8 weights included), latency in ms per call at batch 1 and 64, test
accuracy. Run: python benchmarks/sequence.py [N]  (N trials per row, default 16)
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
import time

import numpy as np
import optuna
import torch
from torch import nn

import aimauto_nb as an
from aimauto_nb.compression.torch_ops import state_size
from aimauto_nb.measure import measure_latency

optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)
SEED = 0
N = int(sys.argv[1]) if len(sys.argv) > 1 else 16
LENGTH, VOCAB = 6, 11  # digits and "?"

digits = np.random.default_rng(0).integers(0, 10, size=(6000, LENGTH))
X = np.concatenate([digits, np.full_like(digits, 10)], axis=1)
Y = np.sort(digits, axis=1)
Xt, Yt = torch.as_tensor(X[:3000]), torch.as_tensor(Y[:3000])
Xv, Yv = torch.as_tensor(X[3000:4000]), torch.as_tensor(Y[3000:4000])
X_test, Y_test = torch.as_tensor(X[4000:]), torch.as_tensor(Y[4000:])


class Seq2Seq(nn.Module):
    def __init__(self, kind="lstm", emb=32, layers=1, dropout=0.0, hidden=64, heads=2, ff=64):
        super().__init__()
        self.kind = kind
        self.embed = nn.Embedding(VOCAB, emb)
        if kind == "transformer":
            self.pos = nn.Parameter(torch.randn(2 * LENGTH, emb) * 0.1)
            layer = nn.TransformerEncoderLayer(emb, heads, ff, dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            width = emb
        else:
            rnn = nn.LSTM if kind == "lstm" else nn.GRU
            self.encoder = rnn(emb, hidden, layers, batch_first=True,
                               dropout=dropout if layers > 1 else 0.0)
            width = hidden
        self.head = nn.Linear(width, VOCAB)

    def forward(self, x):
        h = self.embed(x)
        h = self.encoder(h + self.pos) if self.kind == "transformer" else self.encoder(h)[0]
        return self.head(h[:, -LENGTH:])


def sequence_accuracy(model, X, Y) -> float:
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(-1) == Y).all(1).float().mean().item()


def train(model, lr, report):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    acc = 0.0
    for epoch in range(1, 9):
        model.train()
        for idx in torch.randperm(len(Xt), generator=g).split(100):
            loss = nn.functional.cross_entropy(model(Xt[idx]).transpose(1, 2), Yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = sequence_accuracy(model, Xv, Yv)
        report(acc, epoch)
    return acc


CELL = """
torch.manual_seed(0)
kind = hp.choice(["lstm", "gru", "transformer"])
emb = hp.choice([16, 32])
layers = hp.int(1, 2)
dropout = hp.float(0.0, 0.2)
if kind == "transformer":
    model = Seq2Seq(kind, emb, layers, dropout, heads=hp.choice([1, 2, 4]), ff=hp.int(32, 96, log=True))
else:
    model = Seq2Seq(kind, emb, layers, dropout, hidden=hp.int(16, 64, log=True))
score = train(model, hp.float(2e-3, 1e-2, log=True, name="lr"), report)
"""


def ours(pruner):
    start = dt.datetime.now()
    t0 = time.perf_counter()
    s = an.search(CELL, namespace=globals(), metrics="score:max", trials=N, pruner=pruner,
                  seed=SEED, display=False).wait()
    wall = time.perf_counter() - t0
    done = [(r.started + dt.timedelta(seconds=r.duration) - start).total_seconds()
            for r in s.trials if r.state == "complete"]
    finished = [(t, r.values["score"]) for t, r in
                zip(done, [r for r in s.trials if r.state == "complete"], strict=True)]
    params = [r.params for r in sorted(s.trials, key=lambda r: r.number)]
    return wall, sorted(finished), s.counts()["pruned"], params, s


def plain_optuna():
    def objective(t):
        torch.manual_seed(0)
        kind = t.suggest_categorical("kind", ["lstm", "gru", "transformer"])
        emb = t.suggest_categorical("emb", [16, 32])
        layers = t.suggest_int("layers", 1, 2)
        dropout = t.suggest_float("dropout", 0.0, 0.2)
        if kind == "transformer":
            model = Seq2Seq(kind, emb, layers, dropout,
                            heads=t.suggest_categorical("heads", [1, 2, 4]),
                            ff=t.suggest_int("ff", 32, 96, log=True))
        else:
            model = Seq2Seq(kind, emb, layers, dropout, hidden=t.suggest_int("hidden", 16, 64, log=True))
        return train(model, t.suggest_float("lr", 2e-3, 1e-2, log=True), lambda v, s: None)

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=SEED))
    start = dt.datetime.now()
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=N)
    wall = time.perf_counter() - t0
    finished = sorted(((t.datetime_complete - start).total_seconds(), t.value)
                      for t in study.trials if t.value is not None)
    return wall, finished, 0, [t.params for t in study.trials]


def time_to(finished, target):
    best = -1.0
    for t, v in finished:
        best = max(best, v)
        if best >= target:
            return t
    return None


def latency_ms(model, rows) -> float:
    return measure_latency(model, X_test[:rows]) * rows


def compress_rows(net):
    rows = [("uncompressed", net, None)]
    try:
        small = copy.deepcopy(net)
        an.compress(small, quantize="int8", data=(X_test.numpy(), Y_test.numpy()))
        rows.append(("compress(quantize='int8')", small, None))
    except Exception as e:  # shown in the table: what compress does with this model today
        rows.append(("compress(quantize='int8')", None, f"{type(e).__name__}: {e}"))
    try:
        import warnings

        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quantize_dynamic(copy.deepcopy(net), {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)
            sequence_accuracy(q, X_test[:2], Y_test[:2])
        rows.append(("torch.ao quantize_dynamic", q, None))
    except Exception as e:
        rows.append(("torch.ao quantize_dynamic", None, f"{type(e).__name__}: {e}"))
    print(f"\nwinner: {type(net.encoder).__name__}, {state_size(net) / 1e3:.1f} KB")
    print(f"{'model':<28} {'size KB':>8} {'ms @1':>7} {'ms @64':>7} {'test acc':>9}")
    for name, m, err in rows:
        if m is None:
            print(f"{name:<28} failed: {err.splitlines()[0][:90]}")
            continue
        print(f"{name:<28} {state_size(m) / 1e3:>8.1f} {latency_ms(m, 1):>7.3f} "
              f"{latency_ms(m, 64):>7.3f} {sequence_accuracy(m, X_test, Y_test):>9.3f}")


def main():
    runs = {}
    for label, pruner in [("aimauto_nb pruner='auto'", "auto"),
                          ("aimauto_nb pruner='median'", "median"),
                          ("aimauto_nb no pruning", None)]:
        wall, finished, pruned, params, s = ours(pruner)
        runs[label] = (wall, finished, pruned, params)
        if pruner == "auto":
            winner = s.best_model
    runs["plain Optuna loop (no pruning)"] = plain_optuna()
    top = max(v for _, f, _, _ in runs.values() for _, v in f)
    target = top - 0.01
    print(f"sort {LENGTH} digits, {N} trials, TPE seed {SEED}; best of all rows {top:.3f}, "
          f"target = best - 1 point = {target:.3f}")
    print(f"{'run':<32} {'best acc':>8} {'pruned':>6} {'wall s':>7} {'to target s':>11} "
          f"{'to best s':>9} {'wall ratio':>10}")
    base_wall, _, _, base_params = runs["plain Optuna loop (no pruning)"]
    for label, (wall, finished, pruned, _) in runs.items():
        reach, best_at = time_to(finished, target), time_to(finished, top)
        best = max(v for _, v in finished)
        print(f"{label:<32} {best:>8.3f} {pruned:>6} {wall:>7.1f} "
              f"{'never' if reach is None else f'{reach:.1f}':>11} "
              f"{'never' if best_at is None else f'{best_at:.1f}':>9} {wall / base_wall:>10.2f}")
    same = runs["aimauto_nb no pruning"][3] == base_params
    print(f"no-pruning search and the plain loop tried the same parameters: {same}")
    compress_rows(winner)


if __name__ == "__main__":
    main()
