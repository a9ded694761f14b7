"""Attention heads and width attributes kept consistent through structured pruning.

Torch-Pruning shrinks the weights; the attention modules of real libraries also keep the
head count and sizes as plain attributes their ``forward`` reshapes with (timm
``Attention.num_heads`` / ``head_dim``, HuggingFace ``num_attention_heads`` /
``attention_head_size`` / ``all_head_size``, DistilBERT ``n_heads`` / ``dim``), and some models
keep the hidden width (torchvision ``VisionTransformer.hidden_dim``). Following
Torch-Pruning's own timm / HF BERT / torchvision examples, the q/k/v (or fused qkv)
projections are registered with their head count so whole heads go, and afterwards every
such attribute is set from the pruned layers.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["Attention", "find_attention", "update_heads", "width_attributes", "update_widths"]

HEADS = ("num_heads", "num_attention_heads", "n_heads", "n_head")
HEAD_DIM = ("head_dim", "attention_head_size", "head_size", "dim_head")
ALL_HEADS = ("all_head_size", "inner_dim", "attn_dim")
_QKV = {"q", "k", "v", "query", "key", "value", "q_lin", "k_lin", "v_lin", "q_proj", "k_proj",
        "v_proj", "to_q", "to_k", "to_v", "wq", "wk", "wv"}
_FUSED = {"qkv", "in_proj", "to_qkv", "qkv_proj", "c_attn"}
WIDTHS = ("hidden_dim", "hidden_size", "embed_dim", "d_model", "dim", "width", "num_features",
          "embed_dims")


@dataclass
class Attention:
    """One attention module: its head-count attribute and q/k/v (or fused qkv) projections."""

    module: nn.Module
    heads_attr: str
    projections: list[nn.Linear]
    fused: bool


def find_attention(model: nn.Module) -> list[Attention]:
    """Attention modules (other than ``nn.MultiheadAttention``, which Torch-Pruning knows)
    with an integer head count and Linear q/k/v or fused qkv children."""
    found = []
    for m in model.modules():
        if isinstance(m, nn.MultiheadAttention):
            continue
        attr = next((a for a in HEADS if isinstance(getattr(m, a, None), int)
                     and not isinstance(getattr(m, a), bool)), None)
        if attr is None:
            continue
        heads = getattr(m, attr)
        kids = {n: c for n, c in m.named_children() if isinstance(c, nn.Linear)}
        fused = [c for n, c in kids.items() if n in _FUSED and c.out_features % (3 * heads) == 0]
        qkv = [c for n, c in kids.items() if n in _QKV and c.out_features % heads == 0]
        if fused:
            found.append(Attention(m, attr, fused[:1], True))
        elif qkv:
            found.append(Attention(m, attr, qkv, False))
    return found


def update_heads(attn: list[Attention], new_heads: dict[nn.Module, int]) -> None:
    """Set each module's head count, head size and total attention width from its pruned
    projections (``new_heads``: Torch-Pruning's ``pruner.num_heads``)."""
    for a in attn:
        p = a.projections[0]
        heads = new_heads.get(p, getattr(a.module, a.heads_attr))
        width = p.out_features // 3 if a.fused else p.out_features
        setattr(a.module, a.heads_attr, heads)
        for name in HEAD_DIM:
            if isinstance(getattr(a.module, name, None), int):
                setattr(a.module, name, width // heads)
        for name in ALL_HEADS:
            if isinstance(getattr(a.module, name, None), int):
                setattr(a.module, name, width)


def _layer_widths(model: nn.Module) -> dict[str, tuple[int, ...]]:
    out = {}
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            out[n] = (m.in_features, m.out_features)
        elif isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            out[n] = (m.in_channels, m.out_channels)
        elif isinstance(m, nn.LayerNorm) and m.normalized_shape:
            out[n] = (m.normalized_shape[-1],)
        elif isinstance(m, nn.Embedding):
            out[n] = (m.embedding_dim,)
    return out


def width_attributes(model: nn.Module) -> tuple[dict, dict]:
    """Before pruning: the hidden-width attributes of non-layer modules and all layer widths."""
    attrs = {}
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.LayerNorm | nn.Embedding
                      | nn.MultiheadAttention | nn.RNNBase | nn.modules.batchnorm._NormBase
                      | nn.GroupNorm):
            continue  # layers Torch-Pruning (or our LSTM rule) already updates
        for a in WIDTHS:
            v = getattr(m, a, None)
            if isinstance(v, int) and not isinstance(v, bool) and a in vars(m):
                attrs[(n, a)] = v
    return attrs, _layer_widths(model)


def update_widths(model: nn.Module, before: tuple[dict, dict]) -> list[str]:
    """After pruning: set each recorded width attribute whose value was a layer width that
    changed the same way everywhere (e.g. 768 -> 384); returns the attributes set."""
    attrs, widths = before
    now = _layer_widths(model)
    moves: dict[int, set[int]] = {}
    for n, old in widths.items():
        for a, b in zip(old, now.get(n, old)):
            moves.setdefault(a, set()).add(b)
    done = []
    mods = dict(model.named_modules())
    for (n, a), v in attrs.items():
        new = moves.get(v, set())
        if len(new) == 1 and v not in new and n in mods and getattr(mods[n], a) == v:
            setattr(mods[n], a, next(iter(new)))
            done.append(f"{n + '.' if n else ''}{a}")
    return done
