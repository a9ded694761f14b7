"""Structured pruning of any traceable PyTorch network: whole channels, neurons, attention
head dimensions, embedding dimensions and recurrent hidden units are removed, so the layers
really get smaller.

Plain ``nn.Sequential`` MLP chains keep the exact bias-folding path of
:func:`aimauto_nb.compression.torch_ops.prune_structured`. Everything else goes through
Torch-Pruning's dependency graph (residual adds, concatenations, BatchNorm/LayerNorm, custom
``forward``, ``nn.MultiheadAttention``, ``nn.Embedding``). Torch-Pruning's own LSTM handler is
wrong (it slices ``weight_hh`` by unit instead of by gate block and drops input columns of
``weight_ih``; it also refuses stacked LSTMs and has none for GRU), so LSTM/GRU hidden units
are pruned here by hand (:func:`recurrent_pruner`), checked in the tests against the original
network with those units masked. Torch-Pruning's magnitude importance does not score Embedding
or LSTM weights, so a small subclass adds them (else an Embedding feeding an LSTM is never
pruned).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from .._imports import try_import
from ..errors import CompressError, InputError
from .adapter import call, forward
from .heads import find_attention, update_heads, update_widths, width_attributes
from .torch_ops import _ELEMENTWISE
from .torch_ops import prune_structured as prune_chain

__all__ = ["prune_structured_any", "recurrent_pruner", "prune_rnn_units", "output_layers"]

_SHAPED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Embedding,
           nn.LSTM, nn.GRU, nn.MultiheadAttention, nn.LayerNorm)


def _gates(layer) -> int:
    return 4 if isinstance(layer, nn.LSTM) else 3


def prune_rnn_units(layer: nn.LSTM | nn.GRU, drop: Sequence[Sequence[int]]) -> None:
    """Remove hidden units ``drop[l]`` from layer ``l`` of a unidirectional LSTM/GRU (the same
    number from every layer: ``hidden_size`` is shared); each gate block loses those rows,
    ``weight_hh`` those columns, and the next layer's ``weight_ih`` the matching inputs."""
    H, G = layer.hidden_size, _gates(layer)
    keeps = [torch.tensor(sorted(set(range(H)) - set(map(int, d))), dtype=torch.long) for d in drop]
    if len({len(k) for k in keeps}) != 1 or len(keeps) != layer.num_layers:
        raise CompressError("every layer of a stacked RNN must lose the same number of units")
    for i, keep in enumerate(keeps):
        dev = getattr(layer, f"weight_hh_l{i}").device
        keep = keep.to(dev)
        rows = torch.cat([keep + g * H for g in range(G)])
        with torch.no_grad():
            w_ih = getattr(layer, f"weight_ih_l{i}")[rows]
            if i > 0:
                w_ih = w_ih[:, keeps[i - 1].to(dev)]
            w_hh = getattr(layer, f"weight_hh_l{i}")[rows][:, keep]
            new = {f"weight_ih_l{i}": w_ih, f"weight_hh_l{i}": w_hh}
            if layer.bias:
                for b in ("bias_ih", "bias_hh"):
                    new[f"{b}_l{i}"] = getattr(layer, f"{b}_l{i}")[rows]
        for name, t in new.items():
            setattr(layer, name, nn.Parameter(t.clone()))
    layer.hidden_size = len(keeps[0])
    layer._init_flat_weights()


def _unit_norms(layer, i: int) -> torch.Tensor:
    H, G = layer.hidden_size, _gates(layer)
    rows = torch.cat([getattr(layer, f"weight_ih_l{i}"), getattr(layer, f"weight_hh_l{i}")], 1)
    return rows.detach().reshape(G, H, -1).pow(2).sum((0, 2))


def _import_tp():
    return try_import("torch_pruning", extra="torch", what="structured pruning of this architecture")


def _recurrent_pruner_class():
    tp = _import_tp()

    class _RecurrentPruner(tp.pruner.function.BasePruningFunc):
        """Torch-Pruning handler for nn.LSTM / nn.GRU: out channels are the last layer's hidden
        units (inner layers lose as many, smallest gate-weight norm first); in channels are the
        first layer's inputs."""

        def prune_out_channels(self, layer, idxs):
            k = len(idxs)
            drop = [torch.topk(_unit_norms(layer, i), k, largest=False).indices.tolist()
                    for i in range(layer.num_layers - 1)] + [list(idxs)]
            prune_rnn_units(layer, drop)
            return layer

        def prune_in_channels(self, layer, idxs):
            keep = sorted(set(range(layer.input_size)) - set(map(int, idxs)))
            sfx = ["", "_reverse"] if layer.bidirectional else [""]
            for s in sfx:
                w = getattr(layer, f"weight_ih_l0{s}")
                setattr(layer, f"weight_ih_l0{s}",
                        nn.Parameter(w.detach()[:, torch.tensor(keep, device=w.device)].clone()))
            layer.input_size = len(keep)
            layer._init_flat_weights()
            return layer

        def get_out_channels(self, layer):
            return layer.hidden_size * (2 if layer.bidirectional else 1)

        def get_in_channels(self, layer):
            return layer.input_size

    return _RecurrentPruner


def _importance_class():
    tp = _import_tp()

    class _Importance(tp.importance.GroupMagnitudeImportance):
        """Torch-Pruning's group L2 magnitude, plus the layers it does not score: Embedding
        columns and LSTM units / inputs (else a group of only those is never pruned)."""

        def __call__(self, group):
            imps, roots = [], []
            for i, (dep, idxs) in enumerate(group):
                layer, fn = dep.layer, getattr(dep.pruning_fn, "__name__", "")
                if isinstance(layer, nn.Embedding) and fn == "prune_embedding_out_channels":
                    imps.append(layer.weight.detach()[:, idxs].abs().pow(self.p).sum(0))
                elif isinstance(layer, nn.LSTM) and fn == "prune_out_channels":
                    imps.append(_unit_norms(layer, layer.num_layers - 1)[idxs])
                elif isinstance(layer, nn.LSTM) and fn == "prune_in_channels":
                    imps.append(layer.weight_ih_l0.detach()[:, idxs].abs().pow(self.p).sum(0))
                else:
                    continue
                roots.append(group[i].root_idxs)
            base = super().__call__(group)
            if not imps:
                return base
            mine = self._normalize(self._reduce(imps, roots), self.normalizer)
            return mine if base is None else base + mine

    return _Importance


def recurrent_pruner():
    """A Torch-Pruning pruning function for LSTM/GRU layers (see the module docstring)."""
    return _recurrent_pruner_class()()


def output_layers(model: nn.Module, example_inputs) -> list[nn.Module]:
    """The weighted layer that runs last in ``forward`` (its width is the model's output, so
    it is never pruned)."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in model.modules() if isinstance(m, _SHAPED)]
    try:
        with torch.no_grad():
            call(model, example_inputs)
    finally:
        for h in hooks:
            h.remove()
    if not order:
        raise CompressError("structured pruning found no Linear, Conv, Embedding or recurrent "
                            "layer that runs in forward")
    return [order[-1]]


def _refuse_untraceable(model: nn.Module) -> None:
    """A layer with a weight matrix that is not a torch layer (HuggingFace ``Conv1D`` in
    GPT-2, other hand-written linears): Torch-Pruning has no rule for it and would cut it
    along the wrong axis."""
    known = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
             nn.ConvTranspose2d, nn.ConvTranspose3d, nn.MultiheadAttention, nn.RNNBase, nn.Bilinear)
    for name, m in model.named_modules():
        if type(m).__module__.startswith("torch.ao.nn.quantized") or type(m).__name__ == "Int8Conv":
            raise CompressError(f"structured pruning must come before int8: layer {name!r} is "
                                f"already quantized ({type(m).__name__})")
        w = m._parameters.get("weight")
        if w is not None and w.dim() >= 2 and not isinstance(m, known):
            raise CompressError(f"structured pruning cannot trace layer {name!r} "
                                f"({type(m).__name__}: Torch-Pruning has no rule for it); use "
                                "quantize='int8', or prune=FRACTION without structured=True")


def _check_runs(model: nn.Module, example_inputs) -> None:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            forward(model, example_inputs)
    except Exception as e:
        raise CompressError(f"the pruned {type(model).__name__} no longer runs "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                            "some attribute its forward uses still holds the old width") from e
    finally:
        model.train(was)


def _shape(m: nn.Module) -> tuple:
    return tuple(tuple(p.shape) for p in m.parameters(recurse=False))


def _plain_mlp_chain(model: nn.Module) -> bool:
    seq = model if isinstance(model, nn.Sequential) else None
    if seq is None:
        return False
    kinds = [type(m) for m in seq]
    return (sum(k is nn.Linear for k in kinds) >= 2
            and all(k is nn.Linear or issubclass(k, _ELEMENTWISE + (nn.BatchNorm1d,)) for k in kinds))


def prune_structured_any(model: nn.Module, amount: float, example_inputs) -> tuple[str, list[str]]:
    """Remove ``amount`` of the channels of every prunable group; returns (step, notes).

    ``amount`` is a channel ratio; the step says which fraction of the parameters went.
    Layers whose shape could not change are named in a note; only a model where nothing
    could be pruned is an error.
    """
    n0 = sum(p.numel() for p in model.parameters())
    if _plain_mlp_chain(model):
        step = prune_chain(model, amount)
        n1 = sum(p.numel() for p in model.parameters())
        return f"{step}; {1 - n1 / n0:.0%} of the parameters removed", []
    if example_inputs is None:  # a sequential chain needs no trace; anything else does
        try:
            step = prune_chain(model, amount)
        except CompressError as e:
            raise InputError("structured pruning traces the model and its input cannot be "
                             "derived: pass example_inputs= (a tensor or tuple of tensors) or "
                             f"data=(X, y) ({e})") from e
        n1 = sum(p.numel() for p in model.parameters())
        return f"{step}; {1 - n1 / n0:.0%} of the parameters removed", []
    tp = _import_tp()
    _refuse_untraceable(model)
    keep_out = output_layers(model, example_inputs)
    notes: list[str] = []
    ignored = list(keep_out)
    for name, m in model.named_modules():
        if isinstance(m, nn.GRU):
            raise CompressError(f"structured pruning cannot trace nn.GRU layer {name!r} (Torch-Pruning "
                                "fails on it); use structured=False or quantize='int8'")
        if isinstance(m, nn.LSTM) and (m.bidirectional or m.proj_size):
            ignored.append(m)
    shapes = {name: _shape(m) for name, m in model.named_modules() if isinstance(m, _SHAPED)}
    heads = {m: m.num_heads for m in model.modules() if isinstance(m, nn.MultiheadAttention)}
    attn = find_attention(model)
    counted = {p: getattr(a.module, a.heads_attr) for a in attn for p in a.projections}
    widths = width_attributes(model)
    pruner_fn = recurrent_pruner()
    was = model.training
    try:
        with warnings.catch_warnings(), torch.enable_grad():
            warnings.simplefilter("ignore")
            pruner = tp.pruner.BasePruner(
                model, example_inputs, importance=_importance_class()(p=2),
                pruning_ratio=float(amount), ignored_layers=ignored, num_heads=dict(counted),
                channel_groups=heads,  # nn.MultiheadAttention: as Torch-Pruning's torchvision ViT recipe
                prune_num_heads=bool(counted), prune_head_dims=not counted,
                head_pruning_ratio=float(amount) if counted else 0.0,
                customized_pruners={nn.LSTM: pruner_fn},
                root_module_types=[nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding,
                                   nn.LSTM, nn.LayerNorm],
                forward_fn=forward)
            pruner.step()
    except CompressError:
        raise
    except Exception as e:
        raise CompressError(f"structured pruning failed inside Torch-Pruning on "
                            f"{type(model).__name__}: {type(e).__name__}: {e}") from e
    finally:
        model.train(was)
    update_heads(attn, pruner.num_heads)
    synced = update_widths(model, widths)
    _check_runs(model, example_inputs)
    for m, h in heads.items():
        m.head_dim = m.embed_dim // h
    out_names = {n for n, m in model.named_modules() if any(m is o for o in keep_out)}
    unchanged = [n for n, m in model.named_modules()
                 if isinstance(m, _SHAPED) and n not in out_names and _shape(m) == shapes[n]
                 and not isinstance(m, nn.LayerNorm)]
    changed = [n for n, m in model.named_modules() if n in shapes and _shape(m) != shapes[n]]
    if not changed:
        raise CompressError("structured pruning found nothing it could prune in "
                            f"{type(model).__name__}")
    if unchanged:
        notes.append("structured pruning left these layers as they were (their channels are tied "
                     f"to the input or output, or cannot be traced): {', '.join(unchanged)}")
    n1 = sum(p.numel() for p in model.parameters())
    what = f"the output layer {', '.join(sorted(out_names))} keeps its width"
    if heads:
        what += "; nn.MultiheadAttention keeps its head count, each head gets narrower"
    if attn:
        counts = sorted({(counted[a.projections[0]], getattr(a.module, a.heads_attr)) for a in attn})
        what += "; attention loses whole heads (" + ", ".join(f"{a} -> {b}" for a, b in counts) + ")"
    if synced:
        notes.append("width attributes set to the pruned sizes: " + ", ".join(synced))
    return (f"structured pruning (Torch-Pruning dependency graph, L2 magnitude) of {amount:.0%} of "
            f"the channels of {len(changed)} layers: {1 - n1 / n0:.0%} of the parameters removed "
            f"({what})", notes)
