"""compress() side by side with calling torch.ao / torch.nn.utils.prune / Torch-Pruning /
torchao directly, and the tree-ensemble pruning table. Prints tables; run:
python benchmarks/compress.py [mlp|trees|networks [resnet|transformer|lstm]|architectures [names]]
(all without one)."""

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


# ---------------------------------------------------------------- networks beyond MLPs


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class ResNet(nn.Module):
    """A small ResNet-style CNN for 8x8 digits (flat 64-pixel rows in)."""

    def __init__(self, c=32, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        self.blocks = nn.Sequential(Block(c), Block(c))
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x.view(-1, 1, 8, 8))).mean((2, 3)))


VOCAB, SEQ, CLASSES = 12, 16, 4


class LSTMClassifier(nn.Module):
    def __init__(self, emb=64, hidden=256):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, CLASSES)

    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.fc(out[:, -1])


class TransformerClassifier(nn.Module):
    def __init__(self, d=128, heads=4, ff=512, layers=2):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, SEQ, d))
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Linear(d, CLASSES)

    def forward(self, x):
        return self.fc(self.enc(self.emb(x) + self.pos).mean(1))


def sequence_task(n=6000, seed=0):
    """Token sequences; the class is the most frequent of the tokens 1..4 (ties: the lowest)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, VOCAB, (n, SEQ))
    counts = np.stack([(X == t).sum(1) for t in range(1, CLASSES + 1)], 1)
    y = counts.argmax(1)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def accuracy(m, X, y):
    with torch.no_grad():
        return float((m(torch.as_tensor(X)).argmax(1).numpy() == y).mean())


def fit(m, X, y, epochs, lr):
    from aimauto_nb.compression.finetune import fit_module

    fit_module(m, X, y, epochs=epochs, lr=lr, batch_size=64)
    return m.eval()


def torch_pruning_directly(model, x, ratio=0.5):
    import torch_pruning as tp

    heads = {m: m.num_heads for m in model.modules() if isinstance(m, nn.MultiheadAttention)}
    pruner = tp.pruner.BasePruner(
        model, x, importance=tp.importance.MagnitudeImportance(p=2), pruning_ratio=ratio,
        ignored_layers=[model.fc], num_heads=heads,
        root_module_types=[nn.Conv2d, nn.Linear, nn.Embedding, nn.LSTM, nn.LayerNorm])
    pruner.step()
    return model


def torchao_directly(model, x):
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(model, Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    return model


def pt2e_directly(model, x, calib):
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    g = torch.export.export(model, (x[:2],), dynamic_shapes=({0: torch.export.Dim("b")},)).module()
    q = xiq.X86InductorQuantizer()
    q.set_global(xiq.get_default_x86_inductor_quantization_config())
    p = prepare_pt2e(g, q)
    with torch.no_grad():
        p(calib)
    q = convert_pt2e(p)
    allow_exported_model_train_eval(q)
    return q


def networks(epochs_ft=3, only=()):
    """ResNet-style CNN on digits, Transformer and LSTM classifiers on a generated sequence
    task: structured 50 % (+ fine-tune), int8, both; next to Torch-Pruning / torchao /
    torch.ao called directly. CPU, 1 thread."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    dig = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    seq = sequence_task()
    cases = [("ResNet-style CNN (digits)", ResNet, dig, 25, 3e-3),
             ("Transformer encoder (sequence task)", TransformerClassifier, seq, 10, 1e-3),
             ("LSTM (sequence task)", LSTMClassifier, seq, 10, 3e-3)]
    for case in cases:
        if not only or any(w in case[0].lower() for w in only):
            network_case(*case, epochs_ft)


def network_case(title, make, split, epochs, lr, epochs_ft):
    X_tr, X_te, y_tr, y_te = split
    torch.manual_seed(0)
    t = time.perf_counter()
    base = fit(make(), X_tr, y_tr, epochs, lr)
    trained_s = time.perf_counter() - t
    a0, s0 = accuracy(base, X_te, y_te), size(base)
    n0 = sum(p.numel() for p in base.parameters())
    X_fit, X_val, y_fit, y_val = train_test_split(X_tr, y_tr, test_size=0.15, random_state=0)
    xb1 = torch.as_tensor(X_te[:1])
    xb64 = torch.as_tensor(X_te[:64])
    lat0 = latency_ms(base, xb1), latency_ms(base, xb64)
    rows = []

    def row(name, m, params=None, note=""):
        if m is None:
            rows.append((name, "fails", "", "", "", "", note))
            return
        m.eval()
        l1, l64 = latency_ms(m, xb1), latency_ms(m, xb64)
        rows.append((name, f"{s0 / size(m):.2f}×",
                     "" if params is None else f"{n0 / params:.2f}×",
                     f"{lat0[0] / l1:.2f}×", f"{lat0[1] / l64:.2f}×",
                     f"{(accuracy(m, X_te, y_te) - a0) * 100:+.2f}", note))
        print("  ", rows[-1], flush=True)

    def ours(**kw):
        m = copy.deepcopy(base)
        rep = compress(m, data=(X_val, y_val), progress=False, **kw)
        return m, rep

    def params(m):
        return sum(p.numel() for p in m.parameters())

    ft = dict(finetune=(X_fit, y_fit), epochs=epochs_ft)
    m, rep = ours(prune=0.5, structured=True, **ft)
    row("structured 50% + fine-tune (aimauto_nb)", m, params(m),
        f"{(rep.metric_compressed - rep.metric_before) * 100:+.1f} before fine-tune (val)")
    try:
        d = torch_pruning_directly(copy.deepcopy(base), xb64)
        fit(d, X_fit, y_fit, epochs_ft, 5e-4)
        row("  Torch-Pruning directly + fine-tune (labels)", d, params(d))
    except Exception as e:
        row("  Torch-Pruning directly", None, note=f"{type(e).__name__}: {str(e)[:50]}")
    m, rep = ours(quantize="int8")
    row("int8 (aimauto_nb, default)", m, note=rep.steps[0][:70])
    if make is not ResNet:
        m, rep = ours(quantize="int8", int8_backend="torchao")
        row("int8 (aimauto_nb, int8_backend='torchao')", m, note=rep.steps[0][-45:])
        d = torch.ao.quantization.quantize_dynamic(copy.deepcopy(base), {nn.Linear, nn.LSTM},
                                                   dtype=torch.qint8)
        try:
            row("  torch.ao quantize_dynamic directly", d)
        except Exception as e:
            row("  torch.ao quantize_dynamic directly", None,
                note=f"{type(e).__name__}: {str(e)[:50]}")
        try:
            d = torchao_directly(copy.deepcopy(base), xb64)
            row("  torchao quantize_ directly (Linear only)", d)
        except Exception as e:
            row("  torchao directly", None, note=f"{type(e).__name__}: {str(e)[:50]}")
    else:
        d = pt2e_directly(copy.deepcopy(base), xb64, torch.as_tensor(X_val[:512]))
        row("  PT2E directly (torchao x86 quantizer)", d)
    m, rep = ours(prune=0.5, structured=True, quantize="int8", **ft)
    row("structured 50% + fine-tune + int8 (aimauto_nb)", m)
    table(f"{title}: fp32 test accuracy {a0:.4f}, {s0 / 1024:.0f} KB, {n0:,} parameters, "
          f"trained {trained_s:.0f}s; latency fp32 {lat0[0]:.3f} ms (batch 1), {lat0[1]:.3f} ms "
          "(batch 64); ratios are before/after",
          ["method", "size", "params", "speed b1", "speed b64", "acc points", "note"], rows)


# ---- real architectures: torchvision / timm (where they import), HuggingFace from configs ----

def _arch_models():
    """name -> (build, input maker, family); only what imports in this venv."""
    out = {}
    try:
        import torchvision.models as tvm
        from torchvision.models.vision_transformer import VisionTransformer

        img = lambda b: torch.randn(b, 3, 64, 64)  # noqa: E731
        out["resnet18"] = (lambda: tvm.resnet18(num_classes=10), img, "cnn")
        out["mobilenet_v3_small"] = (lambda: tvm.mobilenet_v3_small(num_classes=10), img, "cnn")
        out["torchvision ViT (64px, 2 layers, 128 wide)"] = (
            lambda: VisionTransformer(image_size=64, patch_size=8, num_layers=2, num_heads=4,
                                      hidden_dim=128, mlp_dim=256, num_classes=10), img, "tv-vit")
    except Exception as e:  # PyPI torchvision does not import beside torch 2.13
        print(f"(torchvision rows skipped: {type(e).__name__}: {str(e)[:60]})")
    try:
        import timm

        img = lambda b: torch.randn(b, 3, 64, 64)  # noqa: E731
        out["timm ViT-tiny (64px, 2 blocks)"] = (
            lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64,
                                      patch_size=8, depth=2, num_classes=10), img, "timm-vit")
        out["timm convnext_atto"] = (lambda: timm.create_model("convnext_atto", pretrained=False,
                                                               num_classes=10), img, "cnn")
    except Exception as e:
        print(f"(timm rows skipped: {type(e).__name__}: {str(e)[:60]})")
    try:
        import transformers as hf

        hf.logging.set_verbosity_error()
        ids = lambda b: {"input_ids": torch.randint(0, 1000, (b, 32)),  # noqa: E731
                         "attention_mask": torch.ones(b, 32, dtype=torch.long)}
        out["HF BERT (2 layers, 128)"] = (lambda: hf.BertForSequenceClassification(hf.BertConfig(
            hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
            vocab_size=1000, num_labels=3, max_position_embeddings=64)), ids, "bert")
        out["HF GPT-2 (2 layers, 128)"] = (lambda: hf.GPT2LMHeadModel(hf.GPT2Config(
            n_layer=2, n_embd=128, n_head=2, vocab_size=1000, n_positions=64)), ids, "gpt2")
    except Exception as e:
        print(f"(HuggingFace rows skipped: {type(e).__name__}: {str(e)[:60]})")
    return out


def _tp_directly(model, x, family):
    """Torch-Pruning called as its own examples do for that family (50 %)."""
    import torch_pruning as tp

    from aimauto_nb.compression.adapter import forward

    ignored = [m for m in model.modules() if isinstance(m, nn.Linear)][-1:]
    kw = {}
    if family == "tv-vit":
        kw["channel_groups"] = {m: m.num_heads for m in model.modules()
                                if isinstance(m, nn.MultiheadAttention)}
    if family == "timm-vit":
        kw.update(num_heads={m.qkv: m.num_heads for m in model.modules() if hasattr(m, "qkv")},
                  prune_num_heads=True, prune_head_dims=False, head_pruning_ratio=0.5)
    if family == "bert":
        att = [m for m in model.modules() if type(m).__name__ == "BertSelfAttention"]
        kw.update(num_heads={p: m.num_attention_heads for m in att for p in (m.query, m.key, m.value)},
                  prune_num_heads=True, prune_head_dims=False, head_pruning_ratio=0.5)
    pruner = tp.pruner.BasePruner(model, x, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                  pruning_ratio=0.5, ignored_layers=ignored,
                                  forward_fn=forward, **kw)
    pruner.step()
    for m in model.modules():
        if family == "timm-vit" and hasattr(m, "qkv"):
            m.num_heads = pruner.num_heads[m.qkv]
            m.head_dim = m.qkv.out_features // (3 * m.num_heads)
        if family == "bert" and type(m).__name__ == "BertSelfAttention":
            m.num_attention_heads = pruner.num_heads[m.query]
            m.attention_head_size = m.query.out_features // m.num_attention_heads
            m.all_head_size = m.query.out_features
    if family == "tv-vit":
        model.hidden_dim = model.conv_proj.out_channels
    return model


def _pt2e_directly(model, x, calib):
    """The PT2E recipe: strict export (a non-strict one fails on a reused nn.ReLU), x86
    inductor quantizer, calibrate, convert; run eager."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    g = torch.export.export(model, (x[:2],), strict=True,
                            dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    q = xiq.X86InductorQuantizer()
    q.set_global(xiq.get_default_x86_inductor_quantization_config())
    p = prepare_pt2e(g, q)
    with torch.no_grad():
        p(calib)
    return convert_pt2e(p)


def _realistic(model, inputs):
    """Random weights made closer to a trained model's: torchvision zero-initialises some
    heads (logits of 0 make cosine meaningless), and BatchNorm statistics are set from a few
    batches (else activations die out in deep CNNs such as mobilenet_v3)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and float(p.abs().max()) == 0:
                p.normal_(0, 0.02)
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bns:
            from aimauto_nb.compression.adapter import call

            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches
            model.train()
            for _ in range(4):
                call(model, inputs(16))
    return model.eval()


def architectures(only=()):
    """int8, structured 50 %, both and "auto" on real architectures (random weights), next to
    the libraries called directly. Speed = fp32 time / compressed time at batch 1 and 8,
    timed interleaved with the fp32 model (median of >= 20 each), 1 thread, eager; cosine of
    the logits to the fp32 model's on a batch of 8."""
    print(f"torch {torch.__version__}")
    for name, (build, inputs, family) in _arch_models().items():
        if not only or any(w.lower() in name.lower() for w in only):
            _arch_case(name, build, inputs, family)


def _arch_case(name, build, inputs, family):
    from aimauto_nb.compression.adapter import forward, latency_pair

    torch.manual_seed(0)
    base = _realistic(build(), inputs)
    x1, x8, X = inputs(1), inputs(8), inputs(256)
    with torch.no_grad():
        ref, y = forward(base, x8), forward(base, X).numpy()  # metric: r2 of logits to fp32
    s0, rows = size(base), []

    def row(label, make):
        t = time.perf_counter()
        try:
            m, note = make(copy.deepcopy(base))
            secs = time.perf_counter() - t
            sp = [a / b for a, b in (latency_pair(base, m, xb, repeats=25, budget_s=20)
                                     for xb in (x1, x8))]
            with torch.no_grad():
                cos = float(nn.functional.cosine_similarity(forward(m, x8).flatten(),
                                                            ref.flatten(), 0))
        except Exception as e:
            rows.append((label, "fails", "", "", "", "", f"{type(e).__name__}: {str(e)[:70]}"))
            print("  ", rows[-1], flush=True)
            return
        rows.append((label, f"{s0 / size(m):.2f}×", f"{sp[0]:.2f}×", f"{sp[1]:.2f}×",
                     f"{cos:.4f}", f"{secs:.1f}s", note[:260]))
        print("  ", rows[-1], flush=True)

    def ours(**kw):
        def run(m):
            rep = compress(m, data=(X, y), example_inputs=x8, progress=False, **kw)
            timed = [n.split(": ", 1)[1] for n in rep.notes if n.startswith("int8 paths timed")]
            return m, "; ".join(rep.steps)[:90] + (f" [{timed[0]}]" if timed else "")
        return run

    def direct_dynamic(m):
        return torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8), ""

    def direct_torchao(m):
        return torchao_directly(m, x8), ""

    row("int8 (aimauto_nb default)", ours(quantize="int8"))
    row("  torch.ao quantize_dynamic (Linear) directly", direct_dynamic)
    row("  torchao quantize_ (Int8DynamicActivationInt8Weight) directly", direct_torchao)
    if family == "cnn":
        row("  PT2E x86 static int8 directly (eager)", lambda m: (_pt2e_directly(m, x8, X), ""))
    row("structured 50% (aimauto_nb)", ours(prune=0.5, structured=True))
    row("  Torch-Pruning directly (its recipe for the family)",
        lambda m: (_tp_directly(m, x8, family), ""))
    row("structured 50% + int8 (aimauto_nb)", ours(prune=0.5, structured=True, quantize="int8"))
    row("auto, goal=latency, tolerance 1 point (aimauto_nb)", ours_auto(X, y, x8))
    table(f"{name}: {s0 / 1024:,.0f} KB fp32; metric for auto = r2 of the logits to fp32's",
          ["method", "size", "speed b1", "speed b8", "cosine", "time", "what ran"], rows)


def ours_auto(X, y, x8):
    """``y`` is the fp32 model's logits, so the metric is their r2 (1 point = 0.01 r2): with
    random weights most argmaxes are near ties, and argmax agreement would judge noise."""
    def run(m):
        rep = compress(m, "auto", data=(X, y), tolerance=1.0, example_inputs=x8)
        picked = "; ".join(rep.steps)[:60]
        tried = ", ".join(f"{c['recipe']} {c.get('speed') or 0:.2f}x r2 {c.get('metric') or 0:.3f}"
                          for c in rep.candidates)
        return m, f"{picked} | {tried}"
    return run


if __name__ == "__main__":
    import sys

    which = sys.argv[1:] or ["mlp", "trees", "networks", "architectures"]
    if "mlp" in which:
        digits_mlp()
        finetune_rows()
        large_mlp_finetune()
        large_mlp()
    if "trees" in which:
        trees()
    if "networks" in which:  # networks [resnet|transformer|lstm ...]
        networks(only=[w for w in which if w != "networks"])
    if "architectures" in which:  # architectures [resnet18 mobilenet vit bert gpt2 ...]
        architectures(only=[w for w in which if w != "architectures"])
