"""compress() on networks beyond MLP chains: Embedding-first sequence models (LSTM, GRU,
Transformer encoder), residual CNNs, token-level outputs; every path leaves the model as it
was when it fails."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")
from torch import nn  # noqa: E402

from aimauto_nb import compress, distill  # noqa: E402
from aimauto_nb.compression import CompressError  # noqa: E402
from aimauto_nb.measure import InputError  # noqa: E402

VOCAB, SEQ = 12, 8


class RNNClassifier(nn.Module):
    def __init__(self, cell=nn.LSTM, layers=1, hidden=32):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 16)
        self.rnn = cell(16, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 3)

    def forward(self, x):
        out, _ = self.rnn(self.emb(x))
        return self.fc(out[:, -1])


class TransformerClassifier(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, SEQ, d))
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.fc = nn.Linear(d, 3)

    def forward(self, x):
        return self.fc(self.enc(self.emb(x) + self.pos).mean(1))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class ResNet(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.block = Block(c)
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(self.block(self.stem(x.view(-1, 1, 8, 8))).mean((2, 3)))


@pytest.fixture(scope="module")
def tokens():
    rng = np.random.default_rng(0)
    X = rng.integers(0, VOCAB, (300, SEQ))
    y = (X[:, 0] % 3).astype(np.int64)  # the class is in the first token
    return X, y


@pytest.fixture(scope="module")
def images():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32)[:400], y[:400]


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _same(m, state, types):
    assert [type(x) for x in m.modules()] == types
    now = m.state_dict()
    assert now.keys() == state.keys() and all(torch.equal(state[k], now[k]) for k in state)


def test_embedding_lstm_int8_and_unstructured_take_integer_inputs(tokens):
    X, y = tokens
    torch.manual_seed(0)
    m = RNNClassifier(hidden=64)
    rep = compress(m, quantize="int8", data=(X, y))
    assert "recurrent" in rep.steps[0] and "torch.ao" in rep.steps[0]
    assert rep.size_ratio > 2.5 and rep.output_diff < 0.05 and rep.latency_after is not None
    m = RNNClassifier()
    rep = compress(m, quantize="int8")  # no data: nothing needs an input but the timing
    assert rep.latency_before is None and any("example_inputs" in n for n in rep.notes)
    m = RNNClassifier()
    compress(m, prune=0.5)
    w = torch.cat([p.flatten() for n, p in m.rnn.named_parameters() if n.startswith("weight")])
    assert 0.3 < float((w == 0).float().mean()) < 0.7
    assert m(torch.tensor(X[:2])).shape == (2, 3)


def test_tracing_without_any_input_asks_for_example_inputs():
    m = RNNClassifier()
    with pytest.raises(InputError, match="example_inputs="):
        compress(m, prune=0.5, structured=True)
    with pytest.raises(ValueError, match="example_inputs must be a tensor"):
        compress(m, quantize="int8", example_inputs=[1, 2])


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_hidden_units_match_the_masked_network(layers):
    """The pruned LSTM computes what the original computes with those units zeroed (a unit
    with zero gate weights and biases keeps c = h = 0)."""
    torch.manual_seed(layers)
    m = RNNClassifier(layers=layers, hidden=10).eval()
    weak = [1, 4, 7, 8, 9]
    with torch.no_grad():
        for p in m.rnn.parameters():
            for g in range(4):
                p[[g * 10 + u for u in weak]] = 0
        m.fc.weight[:, weak] = 0
        m.emb.weight[:, 8:] = 0  # unused embedding dims: pruning them is exact too
        m.rnn.weight_ih_l0[:, 8:] = 0
        m.rnn._init_flat_weights()
    x = torch.randint(0, VOCAB, (5, SEQ))
    ref = m(x).detach()
    rep = compress(m, prune=0.5, structured=True, example_inputs=x)
    assert m.rnn.hidden_size == 5 and m.fc.in_features == 5 and m.fc.out_features == 3
    assert m.emb.embedding_dim == 8 and m.rnn.input_size == 8
    assert torch.allclose(m(x), ref, atol=1e-6)
    assert "parameters removed" in rep.steps[0]
    assert not [n for n in rep.notes if not n.startswith("slower than the original")]


def test_gru_int8_and_structured_refusal(tokens):
    X, y = tokens
    m = RNNClassifier(cell=nn.GRU)
    state, types = _state(m), [type(x) for x in m.modules()]
    with pytest.raises(CompressError, match="nn.GRU layer 'rnn'"):
        compress(m, prune=0.5, structured=True, data=(X, y))
    _same(m, state, types)
    rep = compress(m, quantize="int8", data=(X, y))
    assert "1 recurrent" in rep.steps[0] and rep.output_diff < 0.05


def test_transformer_structured_heads_ffn_and_embedding(tokens):
    X, y = tokens
    torch.manual_seed(0)
    m = TransformerClassifier().eval()
    n0 = sum(p.numel() for p in m.parameters())
    rep = compress(m, prune=0.5, structured=True, data=(X[:50], y[:50]))
    attn = m.enc.layers[0].self_attn
    assert m.emb.embedding_dim == 16 and attn.embed_dim == 16 and attn.num_heads == 4
    assert attn.head_dim == 4 and m.enc.layers[0].linear1.out_features == 32
    assert m.fc.out_features == 3 and m.pos.shape == (1, SEQ, 16)
    assert sum(p.numel() for p in m.parameters()) < 0.4 * n0
    x = torch.tensor(X[:4])
    m.train()
    assert m(x).shape == (4, 3)
    m.eval()
    assert m(x).shape == (4, 3)
    assert "head count" in rep.steps[0]


def test_transformer_int8_quantizes_the_attention_too(tokens):
    X, y = tokens
    torch.manual_seed(0)
    m = TransformerClassifier(d=64).eval()
    rep = compress(m, quantize="int8", data=(X[:50], y[:50]), int8_layers="all")
    assert "2 attention layers rebuilt" in rep.steps[0]
    assert rep.size_ratio > 3.0 and rep.output_diff < 0.1


def test_linear_attention_matches_multihead_attention():
    from aimauto_nb.compression.attention import swap_attention

    torch.manual_seed(0)
    for batch_first in (True, False):
        holder = nn.Sequential(nn.MultiheadAttention(16, 4, batch_first=batch_first).eval())
        ref = copy.deepcopy(holder)
        assert swap_attention(holder) == ["0"]
        q, kv = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
        if not batch_first:
            q, kv = q.transpose(0, 1), kv.transpose(0, 1)
        pad = torch.zeros(3, 7, dtype=torch.bool)
        pad[:, -2:] = True
        for kw in (dict(), dict(key_padding_mask=pad),
                   dict(attn_mask=torch.ones(5, 7, dtype=torch.bool).triu(1)),
                   dict(average_attn_weights=False)):
            a, wa = ref[0](q, kv, kv, **kw)
            b, wb = holder[0](q, kv, kv, **kw)
            assert torch.allclose(a, b, atol=1e-5) and torch.allclose(wa, wb, atol=1e-5)


def test_resnet_structured_pruning_through_the_residual(images):
    X, y = images
    torch.manual_seed(0)
    m = ResNet().eval()
    rep = compress(m, prune=0.5, structured=True, data=(X, y))
    assert m.stem[0].out_channels == 8 and m.block.c1.out_channels == 8
    assert m.block.b2.num_features == 8 and m.fc.in_features == 8 and m.fc.out_features == 10
    assert rep.size_ratio > 1.8 and "Torch-Pruning" in rep.steps[0]  # 3x on wider ones


def test_conv_int8_is_static_calibrated_on_data_and_keeps_any_batch(images):
    X, y = images
    torch.manual_seed(0)
    m = ResNet(c=32).eval()
    rep = compress(m, quantize="int8")  # nothing to calibrate on: the Convs stay fp32
    assert any(n.startswith("Conv layers stay fp32") and "stem.0" in n for n in rep.notes)
    assert isinstance(m.block.c1, nn.Conv2d)
    m = ResNet(c=32).eval()
    x = torch.tensor(X[:5])
    ref = m(x).detach()
    rep = compress(m, quantize="int8", data=(X, y), int8_layers="all")
    assert "static int8 of 3 Conv layers" in rep.steps[0] and "calibrated on data" in rep.steps[0]
    assert rep.size_ratio > 3.0 and isinstance(m.block.b1, nn.Identity)  # BatchNorm folded
    assert (m(x) - ref).abs().max() < 0.2 and abs(rep.metric_change) <= 0.02
    assert m(x[:1]).shape == (1, 10) and rep.cosine > 0.99
    m.train()
    m.eval()
    copy.deepcopy(m)


def test_torchao_backend_names_itself_and_bad_backend_is_refused(tokens):
    pytest.importorskip("torchao")
    X, y = tokens
    m = RNNClassifier(hidden=64)
    m.fc = nn.Linear(64, 32)  # big enough for int8 to make it smaller
    rep = compress(m, quantize="int8", data=(X, y), int8_backend="torchao", int8_layers="all")
    assert "torchao Int8DynamicActivationInt8WeightConfig" in rep.steps[0]
    assert rep.output_diff < 0.05
    with pytest.raises(ValueError, match="int8_backend must be one of"):
        compress(RNNClassifier(), quantize="int8", int8_backend="fbgemm")
    with pytest.raises(ValueError, match="int8_backend applies to quantize"):
        compress(RNNClassifier(), prune=0.5, int8_backend="torchao")
    rep = compress(RNNClassifier(), quantize="int8-weight-only", data=(X, y))
    assert "torchao Int8WeightOnlyConfig" in rep.steps[0]
    assert any(n.startswith("weight-only int8 covers Linear") and "rnn" in n for n in rep.notes)


@pytest.mark.parametrize("make, kw", [
    (lambda: TransformerClassifier(), dict(prune=0.5, structured=True)),
    (lambda: RNNClassifier(layers=2), dict(prune=0.5, structured=True)),
    (lambda: RNNClassifier(), dict(quantize="int8")),
    (lambda: TransformerClassifier(), dict(quantize="int8")),
    (lambda: TransformerClassifier(), dict(quantize="int8", int8_backend="torchao")),
    (lambda: RNNClassifier(), dict(quantize="int8-weight-only")),
    (lambda: ResNet(), dict(quantize="int8")),
])
def test_every_path_leaves_the_model_as_it_was_when_it_fails(make, kw, tokens, images, monkeypatch):
    """The step runs, then the timing after it fails: the model must be as it was."""
    if "int8_backend" in kw or isinstance(make(), ResNet):
        pytest.importorskip("torchao")
    import aimauto_nb.compression.torch_flow as flow

    torch.manual_seed(0)
    m = make().eval()
    X, y = images if isinstance(m, ResNet) else tokens
    state, types = _state(m), [type(x) for x in m.modules()]
    calls = []

    def fail(*a, **k):
        calls.append(1)
        raise RuntimeError("measurement exploded")

    monkeypatch.setattr(flow, "latency_pair", fail)
    with pytest.raises(CompressError, match="RuntimeError: .*exploded"):
        compress(m, data=(X[:64], y[:64]), **kw)
    assert len(calls) == 1
    _same(m, state, types)
    assert "forward" not in m.__dict__


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 16)
        self.hidden = nn.Linear(16, 32)
        self.out = nn.Linear(32, VOCAB)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(self.emb(x))))


@pytest.mark.slow
def test_token_level_outputs_finetune_and_distill():
    rng = np.random.default_rng(0)
    X = rng.integers(0, VOCAB, (300, SEQ))
    Y = (X + 1) % VOCAB  # per-token labels: (rows, seq)
    torch.manual_seed(0)
    m = Tagger()
    res = distill(copy.deepcopy(m), m, data=(X, Y), epochs=1, progress=False)
    assert res.task == "classification"
    from aimauto_nb.compression.finetune import fit_module

    fit_module(m, X, Y, epochs=30, lr=1e-2)
    rep = compress(m, prune=0.5, structured=True, data=(X[:100], Y[:100]), finetune=(X, Y),
                   epochs=5, lr=5e-3, progress=False)
    assert rep.metric == "accuracy" and m.hidden.out_features == 16 and m.out.out_features == VOCAB
    assert rep.metric_before > 0.9 and rep.metric_finetuned >= rep.metric_compressed
    assert rep.metric_after > 0.8


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sequence_models_on_cuda(tokens):
    X, y = tokens
    for make in (TransformerClassifier, RNNClassifier):
        m = make().cuda()
        rep = compress(m, prune=0.5, structured=True, quantize="int8", data=(X, y),
                       finetune=(X, y), epochs=1, progress=False)
        assert rep.device.startswith("cuda") and "weight-only" in rep.steps[-1]
        assert all(p.device.type == "cuda" for p in m.state_dict().values())


def test_aimcompress_takes_example_inputs_and_an_int8_backend():
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from aimauto_nb.notebook.magics import AimMagics

    shell = InteractiveShell.instance()
    shell.register_magics(AimMagics)
    torch.manual_seed(0)
    shell.user_ns.update(net=RNNClassifier(), x=torch.randint(0, VOCAB, (4, SEQ)))
    rep = shell.run_line_magic("aimcompress", "net --prune 0.5 --structured --example-inputs x")
    assert shell.user_ns["net"].rnn.hidden_size == 16 and rep.latency_batch == 4
    with pytest.raises(UsageError, match="int8_backend must be one of"):
        shell.run_line_magic("aimcompress", "net --quantize int8 --int8-backend nope")
    with pytest.raises(UsageError, match="--example-inputs: no variable named y"):
        shell.run_line_magic("aimcompress", "net --quantize int8 --example-inputs y")
