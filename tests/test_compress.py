import copy
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from aimauto_nb import compress
from aimauto_nb.errors import CompressError

torch = pytest.importorskip("torch")
nn = torch.nn


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def mlp(digits):
    X_tr, _, y_tr, _ = digits
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(m.parameters(), 2e-3)
    Xt, yt = torch.tensor(X_tr), torch.tensor(y_tr)
    for _ in range(15):
        for i in range(0, len(Xt), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(m(Xt[i:i + 64]), yt[i:i + 64]).backward()
            opt.step()
    return m.eval()


def test_int8_on_cpu_is_in_place_smaller_and_as_accurate(mlp, digits):
    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    ident = id(m)
    rep = compress(m, quantize="int8", data=(X_te, y_te), int8_layers="all")
    assert id(m) == ident
    assert all(type(x) is not nn.Linear for x in m.modules())  # layers were replaced in place
    assert rep.size_ratio > 3.0 and rep.metric == "accuracy"  # 3.5+ on wider layers (benchmark)
    assert abs(rep.metric_change) <= 0.01 and rep.output_diff < 1.0
    assert "torch.ao" in rep.steps[0] and rep.device == "cpu"
    assert m(torch.tensor(X_te[:3])).shape == (3, 10)


def test_default_int8_keeps_fp32_where_int8_is_slower_and_says_so(mlp, digits, monkeypatch):
    """int8 is timed per layer; a layer where it loses stays fp32 and the note names it."""
    import aimauto_nb.compression.quantize as q

    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    extra = iter([-0.01, 1e6, -0.01])  # ms int8 adds: the middle Linear is far slower in int8
    monkeypatch.setattr(q, "_extra_ms", lambda *a: next(extra))
    # the whole model with all three in int8 is 10 % slower than with the two
    monkeypatch.setattr(q, "latency_pair", lambda a, b, x, **kw: (1.0, 1.1))
    rep = compress(m, quantize="int8", data=(X_te, y_te))
    assert type(m[2]) is nn.Linear and type(m[0]) is not nn.Linear and type(m[4]) is not nn.Linear
    assert "dynamic int8 of 2 Linear layers" in rep.steps[0]
    assert any("stay fp32" in n and ": 2 (" in n and "int8_layers='all'" in n for n in rep.notes)
    with pytest.raises(ValueError, match="int8_layers must be"):
        compress(copy.deepcopy(mlp), quantize="int8", int8_layers="most")


def test_default_int8_keeps_a_layer_slower_alone_when_the_whole_model_is_as_fast(mlp, digits,
                                                                                   monkeypatch):
    """A layer timed slower alone still gets int8 when the whole int8 model is as fast."""
    import aimauto_nb.compression.quantize as q

    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    extra = iter([-0.01, 1e6, -0.01])
    monkeypatch.setattr(q, "_extra_ms", lambda *a: next(extra))
    monkeypatch.setattr(q, "latency_pair", lambda a, b, x, **kw: (1.0, 1.01))
    rep = compress(m, quantize="int8", data=(X_te, y_te))
    assert not any(type(m[i]) is nn.Linear for i in (0, 2, 4))
    assert "dynamic int8 of 3 Linear layers" in rep.steps[0]


def test_unstructured_pruning_is_permanent(mlp, digits):
    m = copy.deepcopy(mlp)
    rep = compress(m, prune=0.5)
    weights = torch.cat([x.weight.flatten() for x in m.modules() if isinstance(x, nn.Linear)])
    assert abs((weights == 0).float().mean().item() - 0.5) < 0.01
    assert not any(hasattr(x, "weight_orig") for x in m.modules())  # no re-parametrisation left
    assert not any(x._forward_pre_hooks for x in m.modules())
    assert rep.metric is None and "dense" in rep.notes[0]
    copy.deepcopy(m)  # deep-copyable again


def test_structured_pruning_shrinks_the_layers_and_folds_biases(mlp, digits):
    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    rep = compress(m, prune=0.5, structured=True, data=(X_te, y_te))
    assert [x.out_features for x in m if isinstance(x, nn.Linear)] == [64, 64, 10]
    assert [x.in_features for x in m if isinstance(x, nn.Linear)] == [64, 64, 64]
    assert rep.size_ratio > 2.5 and rep.metric_after > 0.5
    # Folding check: a layer whose removed neurons have zero weights gives the same output.
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():
        net[0].weight[3:] = 0  # the three weakest neurons only emit relu(bias)
        net[0].weight[:3] += 1
    x = torch.randn(5, 4)
    before = net(x)
    compress(net, prune=0.5, structured=True)
    assert net[0].out_features == 3
    assert torch.allclose(net(x), before, atol=1e-5)


def test_structured_pruning_of_a_cnn_chain():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(8 * 4 * 4, 10)).eval()
    x = torch.randn(2, 1, 8, 8)
    rep = compress(net, prune=0.5, structured=True)
    assert net[0].out_channels == 4 and net[1].num_features == 4 and net[3].in_channels == 4
    assert net[6].in_features == 4 * 4 * 4 and net(x).shape == (2, 10)
    assert rep.size_ratio > 1.5 and "not folded" in rep.steps[0]


def test_a_residual_block_inside_a_chain_is_pruned_through_the_dependency_graph():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return x + self.fc(x)

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), Residual(), nn.Linear(8, 2))
    rep = compress(net, prune=0.5, structured=True)
    assert net[0].out_features == 4 and net[1].fc.weight.shape == (4, 4)
    assert net[2].in_features == 4 and net[2].out_features == 2  # the output keeps its width
    assert "Torch-Pruning" in rep.steps[0] and "parameters removed" in rep.steps[0]


def test_a_failure_mid_way_leaves_the_model_exactly_as_it_was(mlp, monkeypatch):
    import aimauto_nb.compression.quantize as flow

    m = copy.deepcopy(mlp)
    state = copy.deepcopy(m.state_dict())

    def boom(*a, **k):
        raise RuntimeError("quantizer exploded")

    monkeypatch.setattr(flow, "quantize_int8", boom)
    with pytest.raises(CompressError, match="RuntimeError: .*exploded"):
        compress(m, prune=0.5, quantize="int8")  # pruning ran before the failure
    assert all(type(x) in (nn.Linear, nn.ReLU, nn.Sequential) for x in m.modules())
    assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())


def test_weight_only_int8_runs_on_cpu_too(mlp, digits):
    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    rep = compress(m, quantize="int8-weight-only", data=(X_te, y_te))
    assert rep.size_ratio > 3.0 and abs(rep.metric_change) <= 0.01 and rep.output_diff < 0.5


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_int8_on_cuda_is_weight_only_and_stays_on_the_gpu(mlp, digits):
    _, X_te, _, y_te = digits
    m = copy.deepcopy(mlp)
    rep = compress(m, quantize="int8", device="cuda", data=(X_te, y_te))
    assert rep.device.startswith("cuda") and "weight-only" in rep.steps[0]
    assert all(b.device.type == "cuda" for b in m.buffers())
    assert rep.size_ratio > 3.0 and abs(rep.metric_change) <= 0.01


@pytest.mark.parametrize("kwargs, message", [
    (dict(prune=1.5), "prune must be a fraction"),
    (dict(quantize="int4"), "quantize must be one of"),
    (dict(), "nothing to do"),
    (dict(structured=True), "needs prune"),
    (dict(prune="auto"), "applies to tree ensembles|needs data"),
    (dict(prune=0.5, tolerance=1), "tolerance applies"),
])
def test_bad_arguments(mlp, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compress(copy.deepcopy(mlp), **kwargs)


def test_report_reprs(mlp):
    rep = compress(copy.deepcopy(mlp), quantize="int8")
    assert "smaller" in repr(rep) and "<table>" in rep._repr_html_()


# ------------------------------------------------------------------------------- trees


@pytest.fixture(scope="module")
def split(digits):
    X_tr, X_te, y_tr, y_te = digits
    return X_tr, X_te, y_tr, y_te


@pytest.mark.parametrize("frac, kept", [(0.25, 60), (0.5, 40), (0.75, 20)])
def test_lightgbm_keeps_the_first_iterations(split, frac, kept):
    lgb = pytest.importorskip("lightgbm")
    X_tr, X_te, y_tr, y_te = split
    m = lgb.LGBMClassifier(n_estimators=80, verbose=-1, n_jobs=1).fit(X_tr, y_tr)
    rep = compress(m, prune=frac, data=(X_te, y_te))
    assert m.booster_.current_iteration() == kept and rep.size_ratio > 1
    assert m.predict(X_te[:4]).shape == (4,)
    assert rep.metric_after == pytest.approx((m.predict(X_te) == y_te).mean())


def test_lightgbm_auto_and_booster(split):
    lgb = pytest.importorskip("lightgbm")
    X_tr, X_te, y_tr, y_te = split
    m = lgb.LGBMClassifier(n_estimators=200, verbose=-1, n_jobs=1).fit(X_tr, y_tr)
    rep = compress(m, prune="auto", data=(X_te, y_te), tolerance=1.0)
    assert m.booster_.current_iteration() < 200
    assert (rep.metric_before - rep.metric_after) * 100 <= 1.0
    b = lgb.train({"objective": "multiclass", "num_class": 10, "verbose": -1},
                  lgb.Dataset(X_tr, y_tr), num_boost_round=40)
    same = b
    rep = compress(b, prune=0.5, data=(X_te, y_te))
    assert same is b and b.current_iteration() == 20 and rep.metric == "accuracy"


@pytest.mark.parametrize("cls", ["GradientBoostingClassifier", "HistGradientBoostingClassifier"])
def test_sklearn_boosting(split, cls):
    import sklearn.ensemble as se

    X_tr, X_te, y_tr, y_te = split
    kw = dict(n_estimators=40) if cls.startswith("Gradient") else dict(max_iter=40, early_stopping=False)
    m = getattr(se, cls)(random_state=0, **kw).fit(X_tr, y_tr)
    rep = compress(m, prune=0.5, data=(X_te, y_te))
    n = len(m.estimators_) if cls.startswith("Gradient") else m.n_iter_
    assert n == 20 and rep.size_ratio > 1.5
    assert rep.metric_after == pytest.approx((m.predict(X_te) == y_te).mean())
    m2 = getattr(se, cls)(random_state=0, **kw).fit(X_tr, y_tr)
    rep = compress(m2, prune="auto", data=(X_te, y_te))
    assert (rep.metric_before - rep.metric_after) * 100 <= 0.5


def test_xgboost_keeps_the_first_iterations(split, diabetes):
    xgb = pytest.importorskip("xgboost")
    from aimauto_nb.measure import measure_latency, model_size

    X_tr, X_te, y_tr, y_te = split
    m = xgb.XGBClassifier(n_estimators=20, max_depth=2, n_jobs=1).fit(X_tr, y_tr)
    full = m.predict(X_te, iteration_range=(0, 5))
    size = model_size(m)
    assert measure_latency(m, X_te[:64]) > 0
    rep = compress(m, prune=0.75, data=(X_te, y_te))
    assert m.get_booster().num_boosted_rounds() == 5 and m.n_estimators == 5
    assert (m.predict(X_te) == full).all()  # the same model as its first 5 rounds
    assert model_size(m) < size and rep.size_ratio > 2 and rep.latency_after is not None
    assert rep.metric_after == pytest.approx((m.predict(X_te) == y_te).mean())
    m = xgb.XGBClassifier(n_estimators=30, max_depth=2, n_jobs=1).fit(X_tr, y_tr)
    rep = compress(m, prune="auto", data=(X_te, y_te), tolerance=2.0)
    assert m.get_booster().num_boosted_rounds() < 30
    assert (rep.metric_before - rep.metric_after) * 100 <= 2.0
    X, y = diabetes
    r = xgb.XGBRegressor(n_estimators=20, max_depth=2, n_jobs=1).fit(X, y)
    rep = compress(r, prune="auto", data=(X, y))
    assert rep.metric == "r2" and (rep.metric_before - rep.metric_after) * 100 <= 0.5


def test_catboost_keeps_the_first_iterations(split, diabetes, tmp_path):
    cb = pytest.importorskip("catboost")
    from aimauto_nb.measure import model_size

    X_tr, X_te, y_tr, y_te = split
    kw = dict(depth=2, verbose=0, thread_count=1, allow_writing_files=False, random_seed=0)
    m = cb.CatBoostClassifier(iterations=20, **kw).fit(X_tr, y_tr)
    first = m.predict(X_te, ntree_end=10).ravel()
    size = model_size(m)
    rep = compress(m, prune=0.5, data=(X_te, y_te))
    assert m.tree_count_ == 10
    assert (m.predict(X_te).ravel() == first).all()
    assert model_size(m) < size and rep.size_ratio > 1.2 and rep.metric == "accuracy"
    assert rep.metric_after == pytest.approx((m.predict(X_te).ravel() == y_te).mean())
    X, y = diabetes
    r = cb.CatBoostRegressor(iterations=30, **kw).fit(X, y)
    rep = compress(r, prune="auto", data=(X, y), tolerance=2.0)
    assert rep.metric == "r2" and r.tree_count_ <= 30
    assert (rep.metric_before - rep.metric_after) * 100 <= 2.0
    with pytest.raises(TypeError, match="compress supports"):  # unfitted: nothing to cut
        compress(cb.CatBoostClassifier(**kw), prune=0.5)


def test_forest_by_order_and_by_contribution(split):
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

    X_tr, X_te, y_tr, y_te = split
    m = RandomForestClassifier(n_estimators=40, random_state=0).fit(X_tr, y_tr)
    first = list(m.estimators_[:10])
    rep = compress(m, prune=0.75)
    assert m.estimators_ == first and rep.size_ratio > 3
    m = RandomForestClassifier(n_estimators=40, random_state=0).fit(X_tr, y_tr)
    rep = compress(m, prune=0.5, data=(X_te, y_te))
    assert len(m.estimators_) == 20 and "greedily" in rep.steps[0]
    assert rep.metric_after >= rep.metric_before - 0.02
    r = ExtraTreesRegressor(n_estimators=20, random_state=0).fit(X_tr, y_tr.astype(float))
    rep = compress(r, prune="auto", data=(X_te, y_te.astype(float)))
    assert rep.metric == "r2" and len(r.estimators_) <= 20
    m = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_tr, y_tr)
    rep = compress(m, "auto", data=(X_te, y_te), tolerance=1.0)  # the one "auto" for every kind
    assert len(m.estimators_) < 20 and rep.metric_after >= rep.metric_before - 0.01


def test_linear_coefficients(split):
    from sklearn.linear_model import LogisticRegression

    X_tr, X_te, y_tr, y_te = split
    m = LogisticRegression(max_iter=300).fit(X_tr, y_tr)
    n = m.coef_.size
    rep = compress(m, prune=0.9, data=(X_te, y_te))
    coef = m.coef_.toarray() if hasattr(m.coef_, "toarray") else m.coef_
    assert (coef == 0).sum() == int(0.9 * n)
    assert "sparse" in rep.steps[0] and rep.size_ratio > 1
    assert m.predict(X_te[:2]).shape == (2,)


def test_tree_errors_and_no_silent_noops(split):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    X_tr, _, y_tr, _ = split
    m = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_tr, y_tr)
    before = pickle.dumps(m)
    with pytest.raises(ValueError, match="quantize='int8' applies to PyTorch"):
        compress(m, quantize="int8")
    with pytest.raises(ValueError, match="structured=True applies to PyTorch"):
        compress(m, prune=0.5, structured=True)
    with pytest.raises(ValueError, match="device='cuda'"):
        compress(m, prune=0.5, device="cuda")
    assert pickle.dumps(m) == before
    with pytest.raises(TypeError, match="compress supports"):
        compress(KNeighborsClassifier().fit(X_tr, y_tr), prune=0.5)
