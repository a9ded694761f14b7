"""compress() on architectures the project did not write: torchvision / timm block patterns
rebuilt in-test (torchvision 0.28 on PyPI, the release for torch 2.13, is built against the
CUDA torch and its C extension does not load beside the CPU wheel; timm needs torchvision),
and real HuggingFace models built from small configs with random weights (no downloads)."""

import copy
import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import aimauto_nb as an  # noqa: E402
from aimauto_nb.compression import (  # noqa: E402
    CompressError,
    compress,
    distill,
    load_compressed,
    save_compressed,
)


class BasicBlock(nn.Module):
    """torchvision's ResNet block: one ``nn.ReLU`` module called twice."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self, width=32, classes=10):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = BasicBlock(width, width)
        self.layer2 = BasicBlock(width, 2 * width, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TimmAttention(nn.Module):
    """timm's ViT ``Attention``: a fused qkv Linear reshaped with num_heads / head_dim."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)

    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, -1))


class TimmBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), TimmAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TimmViT(nn.Module):
    def __init__(self, dim=64, heads=4, depth=2, classes=10, patch=4, img=16):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[TimmBlock(dim, heads) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class TorchvisionViT(nn.Module):
    """torchvision's VisionTransformer keeps ``hidden_dim`` and reshapes with it."""

    def __init__(self, hidden_dim=64, heads=4, classes=10, patch=4):
        super().__init__()
        self.hidden_dim, self.patch = hidden_dim, patch
        self.conv_proj = nn.Conv2d(3, hidden_dim, patch, patch)
        self.ln_1 = nn.LayerNorm(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(hidden_dim)
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, 2 * hidden_dim), nn.GELU(),
                                 nn.Linear(2 * hidden_dim, hidden_dim))
        self.heads = nn.Linear(hidden_dim, classes)

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.hidden_dim, -1).permute(0, 2, 1)
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        x = x + self.mlp(self.ln_2(x))
        return self.heads(x.mean(1))


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 3, 16, 16, generator=g)
    return X, torch.randint(0, 10, (96,), generator=g).numpy()


def _roundtrip(m, x, tmp_path):
    """The compressed model pickles, torch.saves and save_compressed-s to the same outputs."""
    ref = m(x)
    again = pickle.loads(pickle.dumps(m))
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    path = save_compressed(m, tmp_path / "model.pt")
    kept = load_compressed(path)
    for other in (again, loaded, kept):
        assert torch.allclose(other(x), ref, atol=1e-5)


def test_resnet_block_with_a_reused_relu_int8_is_faster_kind_and_keeps_any_shape(images, tmp_path):
    X, y = images
    torch.manual_seed(0)
    m = TinyResNet().eval()
    ref = m(X[:8]).detach()
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8], int8_layers="all")
    assert "static int8 of 6 Conv layers" in rep.steps[0] and rep.size_ratio > 3.0
    assert rep.cosine > 0.99 and F.cosine_similarity(m(X[:8]).flatten(), ref.flatten(), 0) > 0.99
    assert m(torch.randn(3, 3, 24, 20)).shape == (3, 10)  # another batch and image size
    _roundtrip(m, X[:4], tmp_path)
    fresh = TinyResNet().eval()
    compress(fresh, quantize="int8", data=(X, y), example_inputs=X[:8], int8_layers="all")
    fresh.load_state_dict(m.state_dict())  # the state_dict loads into another compressed copy
    assert torch.allclose(fresh(X[:4]), m(X[:4]), atol=1e-5)


def _onnxruntime():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")


def test_onnxruntime_int8_keeps_any_batch_and_size_and_saves(images, tmp_path):
    _onnxruntime()
    X, y = images
    torch.manual_seed(0)
    m = TinyResNet().eval()
    ref = m(X[:8]).detach()
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8], int8_backend="onnxruntime")
    assert "through ONNX Runtime" in rep.steps[0] and rep.size_ratio > 3.0
    assert rep.cosine > 0.99 and F.cosine_similarity(m(X[:8]).flatten(), ref.flatten(), 0) > 0.99
    assert isinstance(m, TinyResNet) and not list(m.parameters())  # the fp32 weights are gone
    assert m(torch.randn(3, 3, 24, 20)).shape == (3, 10)
    _roundtrip(m, X[:4], tmp_path)
    path = an.save_compressed(m, tmp_path / "top.pt")
    kept = an.load_compressed(path)
    assert torch.allclose(kept(X[:5]), m(X[:5]), atol=1e-5)  # another batch after loading
    assert kept(X[:1]).shape == (1, 10)


def test_onnxruntime_int8_of_a_vit_keeps_attention_in_fp32(images):
    _onnxruntime()
    X, y = images
    torch.manual_seed(0)
    m = TimmViT().eval()
    ref = m(X[:8]).detach()
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8], int8_backend="onnxruntime")
    assert rep.size_ratio > 2.0 and rep.cosine > 0.998  # with q @ k, softmax @ v in int8: 0.992
    assert F.cosine_similarity(m(X[:8]).flatten(), ref.flatten(), 0) > 0.99


def test_onnx_compact_shortens_names_and_computes_the_same(images, tmp_path):
    _onnxruntime()
    import onnx
    import onnxruntime as ort

    from aimauto_nb.compression.onnx_int8 import _export, compact

    X = images[0][:4]
    torch.manual_seed(0)
    path = str(tmp_path / "m.onnx")
    _export(TinyResNet().eval(), (X,), path)
    raw, short = open(path, "rb").read(), compact(path)
    assert len(short) < len(raw)
    names = [o for n in onnx.load_from_string(short).graph.node for o in n.output]
    assert max(map(len, names)) <= len("output_0")

    def run(b):
        return ort.InferenceSession(b, providers=["CPUExecutionProvider"]).run(None, {"input_0": X.numpy()})[0]

    assert np.array_equal(run(raw), run(short))
    h = onnx.helper
    branch = h.make_graph([h.make_node("Identity", ["x"], ["y"])], "b", [],
                          [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    graph = h.make_graph([h.make_node("If", ["c"], ["y"], name="choose", then_branch=branch,
                                      else_branch=branch)],
                         "g", [h.make_tensor_value_info("c", onnx.TensorProto.BOOL, []),
                               h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(h.make_model(graph), str(tmp_path / "if.onnx"))
    kept = onnx.load_from_string(compact(str(tmp_path / "if.onnx")))
    assert kept.graph.node[0].name == "choose"  # a graph with subgraphs is left as it is
    f = onnx.TensorProto.FLOAT  # an input already called like a short name keeps it, alone
    graph = h.make_graph([h.make_node("Relu", ["t1"], ["a"]), h.make_node("Add", ["a", "t1"], ["b"]),
                          h.make_node("Neg", ["b"], ["out"])], "g",
                         [h.make_tensor_value_info("t1", f, [2])], [h.make_tensor_value_info("out", f, [2])])
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(tmp_path / "t1.onnx"))
    x = np.array([-1.0, 2.0], dtype=np.float32)
    out = ort.InferenceSession(compact(str(tmp_path / "t1.onnx")),
                               providers=["CPUExecutionProvider"]).run(None, {"t1": x})[0]
    assert np.array_equal(out, [1.0, -4.0])


def test_onnxruntime_refusals_leave_the_model_unchanged(hf, tokens, images):
    _onnxruntime()
    ids, y = tokens
    m = _bert(hf)
    before = copy.deepcopy(m.state_dict())
    with pytest.raises(CompressError, match="tensor inputs"):
        compress(m, quantize="int8", data=(ids, y), int8_backend="onnxruntime",
                 example_inputs={"input_ids": torch.tensor(ids[:4])})
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    with pytest.raises(CompressError, match="static int8 on the CPU"):
        compress(TinyResNet(), quantize="int8-weight-only", int8_backend="onnxruntime",
                 example_inputs=images[0][:4])


@pytest.mark.parametrize("kw", [dict(prune=1.5), dict(quantize="int4"), dict(int8_backend="tvm"),
                                dict(quantize="int8", int8_backend="tvm"), dict(recipe="fast"),
                                dict(quantize="int8", int8_layers="some"), dict(structured=True)])
def test_every_argument_error_is_one_line_input_error(images, kw):
    m = TinyResNet().eval()
    before = copy.deepcopy(m.state_dict())
    recipe = kw.pop("recipe", None)
    with pytest.raises(an.InputError) as e:
        compress(m, recipe, example_inputs=images[0][:4], **kw)
    assert "\n" not in str(e.value)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    with pytest.raises(an.InputTypeError, match="compress supports"):
        compress(object(), prune=0.5)


def test_default_int8_leaves_a_cnn_unchanged_when_every_path_is_slower(images, monkeypatch):
    from aimauto_nb.compression import quantize

    X, y = images
    m = TinyResNet().eval()
    before = copy.deepcopy(m.state_dict())
    # each layer faster in int8, the whole int8 model 2x slower (as mobilenet_v3 in torch)
    monkeypatch.setattr(quantize, "latency_pair",
                        lambda a, b, x, **kw: (1.0, 2.0) if isinstance(b, TinyResNet) else (2.0, 1.0))
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8])
    assert "no int8 path was as fast as fp32" in rep.steps[0]
    timed = next(n for n in rep.notes if n.startswith("int8 paths timed"))
    assert timed.startswith("int8 paths timed on the whole model at batch 1 and 8")
    assert "torch int8 (static Conv, dynamic Linear) 0.50x at batch 1, 0.50x at batch 8" in timed
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_default_int8_applies_the_fastest_whole_model_path(images, monkeypatch):
    from aimauto_nb.compression import quantize

    X, y = images
    m = TinyResNet().eval()
    # the Linear-only copy (fc: 640 weights, too small) is unchanged, so the torch path is
    # the only candidate without onnxruntime; make it 2x faster than fp32
    monkeypatch.setattr(quantize, "onnx_available", lambda: False)
    monkeypatch.setattr(quantize, "latency_pair", lambda a, b, x, **kw: (2.0, 1.0))
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8])
    assert rep.steps[0].startswith("static int8 of 6 Conv layers")
    assert any(n.endswith("chose torch int8 (static Conv, dynamic Linear)") for n in rep.notes)


def test_default_int8_skips_a_path_that_is_slower_at_batch_1(images, monkeypatch):
    from aimauto_nb.compression import onnx_int8, quantize
    from aimauto_nb.compression.rows import n_rows

    if not onnx_int8.available():
        pytest.skip("needs onnxruntime")
    X, y = images
    m = TinyResNet().eval()

    def timing(a, b, x, **kw):  # ONNX Runtime 3x faster at batch 8, 0.8x at batch 1
        if hasattr(b, "int8_onnx"):
            return (3.0, 1.0) if n_rows(x) == 8 else (1.0, 1.25)
        return (1.2, 1.0)

    monkeypatch.setattr(quantize, "latency_pair", timing)
    rep = compress(m, quantize="int8", data=(X, y), example_inputs=X[:8])
    timed = next(n for n in rep.notes if n.startswith("int8 paths timed"))
    assert "ONNX Runtime int8 0.80x at batch 1, 3.00x at batch 8" in timed
    assert timed.endswith("chose torch int8 (static Conv, dynamic Linear)")
    assert not hasattr(m, "int8_onnx")


def test_timm_vit_loses_whole_heads_and_head_dim_stays_consistent(images):
    X, y = images
    torch.manual_seed(0)
    m = TimmViT().eval()
    n0 = sum(p.numel() for p in m.parameters())
    rep = compress(m, prune=0.5, structured=True, example_inputs=X[:8])
    a = m.blocks[0].attn
    assert a.num_heads == 2 and a.head_dim == 16 and a.qkv.out_features == 3 * 2 * 16
    assert m.head.out_features == 10 and m(X[:8]).shape == (8, 10)
    assert sum(p.numel() for p in m.parameters()) < 0.4 * n0
    assert "whole heads (4 -> 2)" in rep.steps[0]


def test_torchvision_vit_hidden_dim_follows_the_pruned_width(images):
    X, y = images
    torch.manual_seed(0)
    m = TorchvisionViT().eval()
    rep = compress(m, prune=0.5, structured=True, example_inputs=X[:8])
    assert m.conv_proj.out_channels == 32 and m.hidden_dim == 32 and m(X[:2]).shape == (2, 10)
    assert any("hidden_dim" in n for n in rep.notes)


@pytest.fixture(scope="module")
def hf():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    return transformers


@pytest.fixture(scope="module")
def tokens():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 500, (64, 12))
    return ids, (ids[:, 0] % 3).astype(np.int64)


def _bert(hf):
    torch.manual_seed(0)
    cfg = hf.BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, vocab_size=500, num_labels=3,
                        max_position_embeddings=32)
    return hf.BertForSequenceClassification(cfg).eval()


def test_bert_int8_and_finetune_read_the_model_output(hf, tokens):
    ids, y = tokens
    m = _bert(hf)
    mask = np.ones_like(ids)
    rep = compress(m, quantize="int8", data=({"input_ids": ids, "attention_mask": mask}, y),
                   finetune=(ids, y), epochs=1, progress=False)
    assert "dynamic int8" in rep.steps[-1] and rep.metric == "accuracy"
    out = m(input_ids=torch.tensor(ids[:2]), attention_mask=torch.tensor(mask[:2]))
    assert type(out).__name__ == "SequenceClassifierOutput" and out.logits.shape == (2, 3)


def test_bert_structured_prunes_whole_heads_and_keeps_head_size(hf, tokens):
    ids, y = tokens
    m = _bert(hf)
    x = {"input_ids": torch.tensor(ids[:8]), "attention_mask": torch.ones(8, 12, dtype=torch.long)}
    rep = compress(m, prune=0.5, structured=True, example_inputs=x)
    att = m.bert.encoder.layer[0].attention.self
    assert att.num_attention_heads == 1 and att.attention_head_size == 64
    assert att.all_head_size == 64 == att.query.out_features
    assert m(**x).logits.shape == (8, 3) and "whole heads (2 -> 1)" in rep.steps[0]


def test_distilbert_structured_then_int8(hf, tokens):
    ids, y = tokens
    torch.manual_seed(0)
    cfg = hf.DistilBertConfig(dim=128, n_layers=2, n_heads=2, hidden_dim=256, vocab_size=500,
                              max_position_embeddings=32)
    m = hf.DistilBertForSequenceClassification(cfg).eval()
    rep = compress(m, prune=0.5, structured=True, quantize="int8", data=(ids, y % 2))
    att = m.distilbert.transformer.layer[0].attention
    assert att.n_heads == 1 and att.attention_head_size == 64 and rep.size_ratio > 3.0
    assert m(torch.tensor(ids[:2])).logits.shape == (2, 2)


@pytest.mark.slow
def test_gpt2_tied_head_is_left_alone_and_structured_names_the_layer(hf, tokens):
    ids, _ = tokens
    torch.manual_seed(0)
    cfg = hf.GPT2Config(n_layer=2, n_embd=128, n_head=2, vocab_size=500, n_positions=32)
    m = hf.GPT2LMHeadModel(cfg).eval()
    x = {"input_ids": torch.tensor(ids[:8]), "attention_mask": torch.ones(8, 12, dtype=torch.long)}
    ref = m(**x).logits.detach()
    with pytest.raises(CompressError, match=r"layer 'transformer.h.0.attn.c_attn' \(Conv1D"):
        compress(m, prune=0.5, structured=True, example_inputs=x)
    rep = compress(m, quantize="int8", example_inputs=x, int8_layers="all")
    assert m.lm_head.weight is m.transformer.wte.weight and rep.size_ratio > 1.5
    assert any("lm_head (with transformer.wte)" in n for n in rep.notes)
    assert F.cosine_similarity(m(**x).logits.flatten(), ref.flatten(), 0) > 0.99


class DictOut(nn.Module):
    """A model returning a dict (as many research codebases do)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 3))

    def forward(self, x, scale=None):
        out = self.body(x)
        return {"logits": out if scale is None else out * scale, "aux": out.sum()}


def test_dict_outputs_and_keyword_inputs_go_through_distill_and_auto():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 8, generator=g)
    y = (X[:, 0] > 0).long().numpy()
    teacher, student = DictOut(), DictOut()
    res = distill(teacher, student, data=(X, y), epochs=1, progress=False)
    assert res.epochs == 1
    rep = compress(copy.deepcopy(teacher), quantize="int8", example_inputs={"x": X[:16]},
                   int8_layers="all")
    assert rep.latency_batch == 16 and rep.size_ratio > 1.2  # body.2 is too small to gain
    assert any("too small" in n and "body.2" in n for n in rep.notes)
    m = copy.deepcopy(teacher)
    rep = compress(m, "auto", data=(X, y), tolerance=100.0, goal="size")
    assert len(rep.candidates) == 5 and rep.steps[0].startswith("auto (size")
    assert "candidate" in repr(rep) and rep.size_ratio > 1.0
    with pytest.raises(ValueError, match='chooses prune / structured / quantize itself'):
        compress(m, "auto", data=(X, y), quantize="int8")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_int8_path_stays_on_the_gpu(images):
    X, y = images
    m = TinyResNet().cuda()
    rep = compress(m, prune=0.5, structured=True, quantize="int8", data=(X, y))
    assert rep.device.startswith("cuda") and "weight-only" in rep.steps[-1]
    assert all(t.device.type == "cuda" for t in m.state_dict().values())
