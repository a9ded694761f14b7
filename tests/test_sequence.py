"""Sequence models: integer token inputs, ``example_inputs``, and the NAS idioms (markers in
loops, conditional parameters, a choice among module classes) searched and written back."""

import ast

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import aimauto_nb as an  # noqa: E402
from aimauto_nb import SearchError  # noqa: E402
from aimauto_nb.space.params import Param  # noqa: E402
from aimauto_nb.space.program import CellProgram  # noqa: E402

# Reverse a digit sequence; a tiny recurrent tagger trained for two full-batch steps.
SEQ_CELL = """
import torch
from torch import nn
torch.manual_seed(0)
kind = hp.choice(["lstm", "gru"])
hidden = hp.int(4, 12)

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(6, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])

model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=0.02)
Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
for epoch in range(2):
    loss = nn.functional.cross_entropy(model(Xt).transpose(1, 2), Yt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        acc = (model(Xt).argmax(-1) == Yt).all(1).float().mean().item()
    report(acc, epoch)
score = acc
"""


@pytest.fixture(scope="module")
def digits():
    X = np.random.default_rng(0).integers(0, 10, size=(64, 5))
    return X, X[:, ::-1].copy()


def _search(cell, digits, fails=False, **kw):
    X, Y = digits
    kw.setdefault("display", False)
    kw.setdefault("seed", 0)
    kw.setdefault("metrics", "score:max,size,latency")
    s = an.search(cell, namespace={"X": X, "Y": Y}, **kw)
    if not fails:
        return s.wait(timeout=240)
    with pytest.raises(SearchError, match="all 1 trial of this search failed"):
        s.wait(timeout=240)  # its only trial failed: the search fails, the trial keeps its error
    return s


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_token_model_is_searched_on_score_size_and_latency(digits, executor):
    s = _search(SEQ_CELL, digits, data=digits, trials=3, executor=executor, jobs=1)
    done = [r for r in s.trials if r.state == "complete"]
    assert len(done) == 3, [r.error for r in s.trials]
    for r in done:
        h, gates = r.params["hidden"], 4 if r.params["kind"] == "lstm" else 3
        params = 10 * 6 + gates * (6 * h + h * h + 2 * h) + h * 10 + 10
        assert r.values["size"] == params * 4
        assert r.values["latency"] > 0
    assert isinstance(s.best_model(torch.zeros((2, 5), dtype=torch.long)), torch.Tensor)


RECORDING_CELL = """
import torch
from torch import nn

class Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, hp.int(2, 4, name="width"))
        self.seen = []

    def forward(self, x):
        self.seen.append((tuple(x.shape), x.dtype))
        return self.embed(x)

model = Recorder()
score = 1.0
"""


def test_example_inputs_are_what_latency_times_without_data(digits):
    cell = RECORDING_CELL + "example_inputs = torch.zeros((3, 7), dtype=torch.long)\n"
    s = _search(cell, digits, trials=1)
    rec = s.trials[0]
    assert rec.state == "complete", rec.error
    assert rec.values["latency"] > 0
    assert set(s.best_model.seen) == {((3, 7), torch.long)}


def test_example_inputs_win_over_the_data_rows(digits):
    X, Y = digits
    cell = RECORDING_CELL + "example_inputs = (torch.ones((2, 4), dtype=torch.long),)\n"
    s = _search(cell, digits, data=(X.astype(float), Y), trials=1)
    assert s.trials[0].state == "complete", s.trials[0].error
    assert set(s.best_model.seen) == {((2, 4), torch.long)}


def test_a_model_that_cannot_run_on_the_rows_asks_for_example_inputs(digits):
    X, Y = digits
    s = _search(RECORDING_CELL, digits, fails=True, data=(X + 0.5, Y), trials=1)
    rec = s.trials[0]
    assert rec.state == "failed"
    assert "InputError: metric latency: the model does not run on the validation rows" in rec.error
    assert "float64" in rec.error and "set `example_inputs` in the cell" in rec.error


def test_object_rows_ask_for_example_inputs(digits):
    X, Y = digits
    words = np.array([["a"] * 5] * len(X), dtype=object)
    s = _search(RECORDING_CELL, digits, fails=True, data=(words, Y), trials=1)
    assert "pass example_inputs" in s.trials[0].error


def test_latency_without_data_needs_a_cell_that_sets_example_inputs(digits):
    with pytest.raises(ValueError, match="latency needs inputs.*example_inputs"):
        an.search("score = hp.float(0, 1)\nmodel = None\n", metrics="score:max,latency",
                  trials=1, display=False)
    with pytest.raises(ValueError, match="latency needs inputs.*example_inputs"):
        an.search(lambda hp: hp.float(0, 1, name="x"), metrics="score:max,latency", trials=1,
                  display=False)
    # Set on one branch only: the trial that skips it fails with the request, not torch's error.
    cell = RECORDING_CELL + ("if hp.choice([True, False], name='give'):\n"
                             "    example_inputs = torch.zeros((1, 3), dtype=torch.long)\n")
    s = _search(cell, digits, trials=6, strategy="grid")
    errors = {r.params["give"]: r.error for r in s.trials}
    assert errors[True] is None
    assert "no inputs to time the model on: set `example_inputs` in the cell" in errors[False]


NAS_CELL = """
import torch
from torch import nn
cell = hp.choice(["rnn", "mlp"])
if cell == "rnn":
    rnn_class = hp.choice([nn.LSTM, nn.GRU])
    hidden = hp.int(2, 6)
    body = rnn_class(4, hidden, batch_first=True)
    width = hidden
else:
    layers = []
    width = 4
    for i in range(hp.int(1, 3, name="depth")):
        units = hp.int(2, 6, name=f"units_{i}")
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    body = nn.Sequential(*layers)
model = nn.ModuleDict({"body": body, "head": nn.Linear(width, 2)})
score = -sum(p.numel() for p in model.parameters())
"""


def _expected_layers(params) -> list:
    if params["cell"] == "rnn":
        return [(params["rnn_class"], params["hidden"])]
    return [("Linear", params[f"units_{i}"]) for i in range(params["depth"])]


def _layers(model) -> list:
    body = model["body"]
    if isinstance(body, torch.nn.RNNBase):
        return [(type(body).__name__, body.hidden_size)]
    return [("Linear", m.out_features) for m in body if isinstance(m, torch.nn.Linear)]


def test_nas_idioms_are_searched_and_written_back_as_runnable_code():
    s = an.search(NAS_CELL, metrics="score:max", trials=14, seed=3, display=False).wait(120)
    done = [r for r in s.trials if r.state == "complete"]
    assert len(done) == 14, [r.error for r in s.trials]
    seen = {(r.params["cell"], r.params.get("rnn_class")) for r in done}
    assert {("rnn", "LSTM"), ("rnn", "GRU"), ("mlp", None)} <= seen
    for r in done:  # conditional parameters appear only under their branch
        if r.params["cell"] == "rnn":
            assert "depth" not in r.params and "hidden" in r.params
        else:
            assert "rnn_class" not in r.params
            assert {k for k in r.params if k.startswith("units_")} == {
                f"units_{i}" for i in range(r.params["depth"])}
    for r in [next(r for r in done if r.params.get("rnn_class") == c) for c in ("LSTM", "GRU")] + [
            max((r for r in done if r.params["cell"] == "mlp"), key=lambda r: r.params["depth"])]:
        code = s.code(r.number)
        ast.parse(code)
        ns = {}
        exec(code, ns)
        assert ns["score"] == r.values["score"]
        assert _layers(ns["model"]) == _expected_layers(r.params)
        if r.params["cell"] == "rnn":
            assert f"rnn_class = nn.{r.params['rnn_class']}" in code


def test_class_choices_are_labelled_by_their_names():
    p = Param("choice", options=(torch.nn.LSTM, torch.nn.GRU, len))
    assert p.labels == ("LSTM", "GRU", "len")
    assert p.from_sampled("GRU") is torch.nn.GRU
    code = CellProgram("rnn = hp.choice([nn.LSTM, nn.GRU])\nscore = 1\n").code(
        {"rnn": "GRU"}, {"rnn": 1})
    assert code.startswith("rnn = nn.GRU\n")
