"""compress() side by side with calling torch.ao / torch.nn.utils.prune directly, and the
tree-ensemble pruning table. Prints tables; run: python benchmarks/compress.py"""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn.utils import prune as tprune

from aimauto_nb import compress

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def size(m):
    b = io.BytesIO()
    torch.save(m.state_dict(), b)
    return b.tell()


def latency_ms(m, X, repeats=30):
    with torch.no_grad():
        m(X)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            m(X)
            ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000


def acc(m, X, y):
    with torch.no_grad():
        return float((m(torch.tensor(X)).argmax(1).numpy() == y).mean())


def train(m, X, y, epochs, lr=1e-3):
    opt = torch.optim.Adam(m.parameters(), lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    m.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(m(Xt[b]), yt[b]).backward()
            opt.step()
    return m.eval()


def mlp(sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def table(title, header, rows):
    print(f"\n{title}")
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print("  ".join(str(h).ljust(w[i]) for i, h in enumerate(header)))
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))


def digits_mlp():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    torch.manual_seed(0)
    base = train(mlp([64, 256, 256, 10]), X_tr, y_tr, 20)
    a0, s0 = acc(base, X_te, y_te), size(base)
    rows = []

    m = copy.deepcopy(base)
    compress(m, quantize="int8", data=(X_te, y_te))
    d = torch.ao.quantization.quantize_dynamic(copy.deepcopy(base), {nn.Linear}, dtype=torch.qint8)
    for name, v in (("int8 (aimauto_nb)", m), ("int8 (torch.ao directly)", d)):
        rows.append((name, f"{s0 / size(v):.2f}×", f"{(acc(v, X_te, y_te) - a0) * 100:+.2f}"))

    m = copy.deepcopy(base)
    compress(m, prune=0.5)
    a_pruned = acc(m, X_te, y_te)
    train(m, X_tr, y_tr, 3, lr=5e-4)
    d = copy.deepcopy(base)
    ls = [x for x in d.modules() if isinstance(x, nn.Linear)]
    tprune.global_unstructured([(x, "weight") for x in ls], pruning_method=tprune.L1Unstructured,
                               amount=0.5)
    a_d = acc(d, X_te, y_te)
    train(d, X_tr, y_tr, 3, lr=5e-4)  # masks kept while fine-tuning
    for x in ls:
        tprune.remove(x, "weight")
    rows.append(("50% L1 prune (aimauto_nb), 3-epoch fine-tune", f"{s0 / size(m):.2f}×",
                 f"{(a_pruned - a0) * 100:+.2f} → {(acc(m, X_te, y_te) - a0) * 100:+.2f}"))
    rows.append(("50% L1 prune (torch prune directly), fine-tune", f"{s0 / size(d):.2f}×",
                 f"{(a_d - a0) * 100:+.2f} → {(acc(d, X_te, y_te) - a0) * 100:+.2f}"))
    m = copy.deepcopy(base)
    compress(m, prune=0.5, structured=True)
    a_s = acc(m, X_te, y_te)
    train(m, X_tr, y_tr, 3, lr=5e-4)
    rows.append(("structured 50% (aimauto_nb), 3-epoch fine-tune", f"{s0 / size(m):.2f}×",
                 f"{(a_s - a0) * 100:+.2f} → {(acc(m, X_te, y_te) - a0) * 100:+.2f}"))
    compress(m, quantize="int8")
    rows.append(("  + int8", f"{s0 / size(m):.2f}×", f"{(acc(m, X_te, y_te) - a0) * 100:+.2f}"))
    table(f"Digits MLP 64-256-256-10 (test accuracy {a0:.4f}, {s0 / 1024:.0f} KB; note: the "
          "unstructured fine-tune with aimauto_nb alone lets pruned weights regrow)",
          ["method", "size ratio", "accuracy change (points)"], rows)


def finetune_rows():
    """Structured 50 % + int8 on the digits MLP: no fine-tuning, 3 epochs on the labels,
    3 epochs of distillation (compress(finetune=...)), next to the hand-written loop."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    X_fit, X_val, y_fit, y_val = train_test_split(X_tr, y_tr, test_size=0.2, random_state=0,
                                                  stratify=y_tr)
    rows = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        base = train(mlp([64, 256, 256, 10]), X_fit, y_fit, 20)
        a0, s0 = acc(base, X_te, y_te), size(base)
        runs = {}
        m = copy.deepcopy(base)
        compress(m, prune=0.5, structured=True, quantize="int8")
        runs["no fine-tuning"] = m
        m = copy.deepcopy(base)
        compress(m, prune=0.5, structured=True)
        train(m, X_fit, y_fit, 3, lr=5e-4)
        compress(m, quantize="int8")
        runs["hand-written loop, 3 epochs (labels)"] = m
        for label, dist in (("compress(finetune=, distill=False), 3 epochs", False),
                            ("compress(finetune=, distill=True), 3 epochs", True)):
            m = copy.deepcopy(base)
            compress(m, prune=0.5, structured=True, quantize="int8", data=(X_val, y_val),
                     finetune=(X_fit, y_fit), epochs=3, distill=dist, progress=False)
            runs[label] = m
        for label, m in runs.items():
            rows.append((seed, label, f"{s0 / size(m):.2f}×", f"{a0:.4f}", f"{acc(m, X_te, y_te):.4f}",
                         f"{(acc(m, X_te, y_te) - a0) * 100:+.2f}"))
    table("Digits MLP 64-256-256-10, structured 50% + int8, test accuracy (3 seeds; the "
          "validation split is only reported on, the test set never touched)",
          ["seed", "pipeline", "size ratio", "fp32 acc", "after", "change (points)"], rows)


def large_mlp_finetune():
    """The same pipeline (structured 50 % + 1 epoch of distillation + int8) on the large MLP:
    what it costs in time and what it gives in size and batch-256 latency."""
    torch.manual_seed(0)
    base = mlp([1024, 4096, 4096, 1024]).eval()
    X = torch.randn(2048, 1024)
    with torch.no_grad():
        y = base(X) + 0.01 * torch.randn(2048, 1024)
    m = copy.deepcopy(base)
    t = time.perf_counter()
    rep = compress(m, prune=0.5, structured=True, quantize="int8", finetune=(X.numpy(), y.numpy()),
                   epochs=1, batch_size=256, progress=False)
    took = time.perf_counter() - t
    Xb = torch.randn(256, 1024)
    t0, t1 = latency_ms(base, Xb, 10), latency_ms(m, Xb, 10)
    table("Large MLP 1024-4096-4096-1024: structured 50% + 1 epoch distillation + int8 (CPU, 1 thread)",
          ["size ratio", "batch-256 fp32 ms", "after ms", "speed-up", "fine-tune s", "compress s"],
          [(f"{size(base) / size(m):.2f}×", f"{t0:.2f}", f"{t1:.2f}", f"{t0 / t1:.2f}×",
            f"{rep.finetune_seconds:.1f}", f"{took:.1f}")])


def large_mlp():
    torch.manual_seed(0)
    base = mlp([1024, 4096, 4096, 1024]).eval()
    s0 = size(base)
    rows = []
    variants = {}
    m = copy.deepcopy(base)
    compress(m, quantize="int8")
    variants["int8 (aimauto_nb)"] = m
    variants["int8 (torch.ao directly)"] = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(base), {nn.Linear}, dtype=torch.qint8)
    m = copy.deepcopy(base)
    compress(m, prune=0.5, structured=True)
    variants["structured 50% (aimauto_nb)"] = m
    m2 = copy.deepcopy(m)
    compress(m2, quantize="int8")
    variants["structured 50% + int8 (aimauto_nb)"] = m2
    for batch in (1, 256):
        X = torch.randn(batch, 1024)
        t0 = latency_ms(base, X)
        for name, v in variants.items():
            rows.append((name, batch, f"{s0 / size(v):.2f}×", f"{t0:.3f}", f"{latency_ms(v, X):.3f}",
                         f"{t0 / latency_ms(v, X):.2f}×"))
    table("Large MLP 1024-4096-4096-1024, CPU, 1 thread (latency medians of 30 calls)",
          ["method", "batch", "size ratio", "fp32 ms", "after ms", "speed-up"], rows)


def trees():
    import lightgbm as lgb
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    X_va, X_te, y_va, y_te = train_test_split(X_rest, y_rest, test_size=0.5, random_state=0,
                                              stratify=y_rest)
    rows = []
    for name, make in [
        ("LightGBM 300 rounds", lambda: lgb.LGBMClassifier(n_estimators=300, verbose=-1, n_jobs=1,
                                                           random_state=0).fit(X_tr, y_tr)),
        ("RandomForest 200 trees", lambda: RandomForestClassifier(200, random_state=0, n_jobs=1)
         .fit(X_tr, y_tr)),
    ]:
        for prune in (0.25, 0.5, 0.75, "auto"):
            m = make()
            a0 = (m.predict(X_te) == y_te).mean()
            rep = compress(m, prune=prune, data=(X_va, y_va))
            a1 = (m.predict(X_te) == y_te).mean()
            rows.append((name, prune, f"{rep.size_ratio:.2f}×", f"{a0:.4f}", f"{a1:.4f}",
                         f"{(a1 - a0) * 100:+.2f}", rep.steps[0][:60]))
    table("Tree ensembles on digits (60/20/20; chosen on validation, scored on test)",
          ["model", "prune", "size ratio", "test acc before", "after", "points", "step"], rows)


if __name__ == "__main__":
    digits_mlp()
    finetune_rows()
    large_mlp_finetune()
    large_mlp()
    trees()
