"""Fine-tuning and distillation after compression (PyTorch, CPU; CUDA when present)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from aimauto_nb import compress, distill  # noqa: E402
from aimauto_nb.compression.finetune import fit_module  # noqa: E402
from aimauto_nb.errors import CompressError  # noqa: E402


@pytest.fixture(scope="module")
def digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def _trained_mlp(X, y, hidden=128, epochs=15, seed=0, device="cpu"):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, 10)).to(device)
    fit_module(net, X, y, epochs=epochs, lr=2e-3, progress=None)
    return net


def _acc(net, X, y):
    dev = next(net.parameters()).device
    with torch.no_grad():
        return float((net(torch.tensor(X, device=dev)).argmax(1).cpu().numpy() == y).mean())


@pytest.fixture(scope="module")
def trained(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    return _trained_mlp(Xtr, ytr)


@pytest.mark.parametrize("distill_on", [True, False])
def test_structured_pruning_then_finetune_recovers_accuracy(trained, digits_split, distill_on):
    import copy

    Xtr, Xte, ytr, yte = digits_split
    net = copy.deepcopy(trained)
    full = _acc(net, Xte, yte)
    rep = compress(net, prune=0.5, structured=True, data=(Xte, yte), finetune=(Xtr, ytr),
                   epochs=3, distill=distill_on, progress=False)
    assert rep.finetune == ("distillation" if distill_on else "labels")
    assert rep.finetune_epochs == 3 and rep.finetune_seconds > 0
    assert rep.metric_compressed < rep.metric_finetuned
    assert rep.metric_finetuned >= full - 0.02
    assert rep.metric_after == pytest.approx(_acc(net, Xte, yte))
    assert net[0].out_features < 128  # really shrunk
    assert "after fine-tuning" in repr(rep) and "after pruning" in repr(rep)


def test_unstructured_zeros_stay_zero_and_int8_comes_after(trained, digits_split):
    import copy

    Xtr, Xte, ytr, yte = digits_split
    net = copy.deepcopy(trained)
    # int8_layers="all": whether int8 is faster on a 128-wide MLP depends on the machine's load
    rep = compress(net, prune=0.6, quantize="int8", data=(Xte, yte), finetune=(Xtr, ytr),
                   epochs=2, progress=False, int8_layers="all")
    assert "unstructured pruning" in rep.steps[0] and rep.steps[1].startswith("fine-tuned")
    assert "int8" in rep.steps[2]
    weights = [m.weight() for m in net.modules() if hasattr(m, "weight") and callable(m.weight)]
    assert weights, "the Linear layers were not quantized"
    w = weights[0].dequantize()
    assert float((w == 0).float().mean()) > 0.5  # the pruned weights survived training


def test_regression_finetune_and_explicit_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8)).astype(np.float32)
    y = (X @ rng.normal(size=8) + 0.1 * rng.normal(size=400)).astype(np.float32)
    net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 1))
    fit_module(net, X, y, epochs=40, lr=3e-3, progress=None)
    rep = compress(net, prune=0.5, structured=True, data=(X[:100], y[:100]), finetune=(X, y),
                   epochs=5, loss="mse", progress=False)
    assert rep.metric == "r2" and rep.finetune == "distillation"
    assert rep.metric_finetuned >= rep.metric_compressed - 1e-6
    assert rep.metric_finetuned > 0.8


@pytest.mark.parametrize("kw, message", [
    (dict(finetune=(np.zeros((5, 64), np.float32), np.array([0, 1, 2, 3, 12]))),
     "labels run from 0 to 12 but the model outputs 10 classes"),
    (dict(finetune=(np.zeros((5, 64), np.float32), np.zeros((5, 3), np.float32))),
     "outputs 10 value(s) per row but y has 3"),
    (dict(finetune=(np.zeros((5, 64), np.float32), np.zeros(4, int))), "X has 5 rows but y has 4"),
    (dict(finetune=(np.zeros((5, 64), np.float32), np.zeros(5, int)), epochs=0),
     "epochs must be a positive integer"),
    (dict(finetune=(np.zeros((5, 64), np.float32), np.zeros(5, int)), loss="hinge"),
     "loss must be"),
    (dict(distill=True), "pass finetune=(X_train, y_train)"),
])
def test_bad_finetune_input_fails_before_any_change(trained, kw, message):
    import copy

    net = copy.deepcopy(trained)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        compress(net, prune=0.5, structured=True, progress=False, **kw)
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_finetune_on_a_tree_model_is_refused(cancer):
    from sklearn.ensemble import RandomForestClassifier

    rf = RandomForestClassifier(n_estimators=5, random_state=0).fit(*cancer)
    with pytest.raises(TypeError, match="finetune applies to PyTorch modules"):
        compress(rf, prune=0.5, finetune=cancer)


def test_failure_midway_leaves_the_model_as_it_was(trained, digits_split):
    import copy

    Xtr, Xte, ytr, yte = digits_split
    net = copy.deepcopy(trained)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def broken_loss(out, y):
        raise RuntimeError("loss exploded")

    with pytest.raises(CompressError, match="RuntimeError: loss exploded"):
        compress(net, prune=0.5, structured=True, finetune=(Xtr, ytr), loss=broken_loss,
                 progress=False)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net[0].out_features == 128


def test_interrupt_keeps_the_best_weights_so_far(trained, digits_split, monkeypatch):
    import copy

    Xtr, Xte, ytr, yte = digits_split
    net = copy.deepcopy(trained)
    calls = []

    def progress(res, total):
        calls.append(res.epochs)
        if res.epochs == 2:
            raise KeyboardInterrupt

    res = fit_module(net, Xtr, ytr, epochs=10, valid=(Xte, yte), progress=progress)
    assert res.interrupted and res.epochs == 2 and calls == [1, 2]
    assert res.best_epoch in (1, 2)
    assert _acc(net, Xte, yte) == pytest.approx(max(res.metric_by_epoch))


def test_distill_trains_a_smaller_student(trained, digits_split):
    Xtr, Xte, ytr, yte = digits_split
    torch.manual_seed(1)
    student = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    before = _acc(student, Xte, yte)
    res = distill(trained, student, data=(Xtr, ytr), epochs=6, lr=3e-3, valid=(Xte, yte),
                  progress=False)
    assert res.task == "classification" and res.epochs == 6 and len(res.losses) == 6
    assert _acc(student, Xte, yte) > max(before, 0.85)
    with pytest.raises(ValueError, match="student outputs shape"):
        distill(trained, nn.Linear(64, 3), data=(Xtr, ytr), progress=False)
    with pytest.raises(TypeError, match="teacher must be a PyTorch module"):
        distill("not a model", student, data=(Xtr, ytr), progress=False)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_finetune_on_cuda(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    net = _trained_mlp(Xtr, ytr, device="cuda")
    rep = compress(net, prune=0.5, structured=True, quantize="int8", data=(Xte, yte),
                   finetune=(Xtr, ytr), epochs=3, progress=False)
    assert rep.device.startswith("cuda") and rep.metric_finetuned >= rep.metric_compressed
