"""PyTorch compression primitives: global L1 pruning, structured pruning of sequential
MLP / CNN chains (exact bias folding), and a built-in weight-only int8 Linear."""

from __future__ import annotations

import io

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune as tprune

from ..errors import CompressError

__all__ = ["state_size", "prune_unstructured", "prune_structured", "Int8WeightOnlyLinear",
           "CompressError"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Sigmoid,
                nn.Hardswish, nn.Mish, nn.Softplus, nn.Dropout, nn.Identity)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
         nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout2d)


def state_size(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: what the model costs on disk, packed
    int8 weights included (``parameters()`` does not see them)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def _weighted(model: nn.Module):
    """(module, parameter name) of every Linear/Conv weight and LSTM/GRU weight matrix."""
    out = []
    for m in model.modules():
        if isinstance(m, _PRUNABLE):
            out.append((m, "weight"))
        elif isinstance(m, nn.RNNBase):
            out += [(m, n) for n, _ in m.named_parameters(recurse=False) if n.startswith("weight")]
    return out


def prune_unstructured(model: nn.Module, amount: float) -> str:
    """Zero the ``amount`` smallest-magnitude weights across all Linear/Conv layers and the
    weight matrices of LSTM/GRU layers."""
    params = _weighted(model)
    if not params:
        raise CompressError("prune found no Linear, Conv, LSTM or GRU layer in the model")
    tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=amount)
    for m, name in params:
        tprune.remove(m, name)
    for m in {id(m): m for m, _ in params}.values():
        if isinstance(m, nn.RNNBase):
            m._init_flat_weights()
    layers = len({id(m) for m, _ in params})
    return f"global L1 unstructured pruning of {amount:.0%} of {layers} layers' weights"


def _chain(model: nn.Module) -> nn.Sequential:
    if isinstance(model, nn.Sequential):
        return model
    seqs = [m for m in model.children() if isinstance(m, nn.Sequential)]
    own = [n for n, m in model.named_children() if not isinstance(m, nn.Sequential)
           and any(True for _ in m.parameters())]
    if len(seqs) == 1 and not own:
        return seqs[0]
    raise CompressError(
        f"structured pruning shrinks nn.Sequential chains; {type(model).__name__} has layers "
        f"outside one ({', '.join(own) or 'several Sequential blocks'}): use structured=False"
    )


def _set(layer, name, tensor):
    setattr(layer, name, nn.Parameter(tensor.detach().clone(), requires_grad=True))


def prune_structured(model: nn.Module, amount: float) -> str:
    """Remove ``amount`` of the output neurons / channels (smallest L2 norm) of every hidden
    Linear/Conv layer and the matching inputs of the layer after it."""
    seq = _chain(model)
    layers = list(seq.named_children())
    idx = [i for i, (_, m) in enumerate(layers) if isinstance(m, _PRUNABLE)]
    if len(idx) < 2:
        raise CompressError("structured pruning needs at least two Linear/Conv layers in sequence")
    removed_total = 0
    folded = True
    for a, b in zip(idx, idx[1:]):
        name_a, la = layers[a]
        name_b, lb = layers[b]
        between = [m for _, m in layers[a + 1:b]]
        for n, m in layers[a + 1:b]:
            if not isinstance(m, _ELEMENTWISE + _BATCHNORM + _POOL + (nn.Flatten,)):
                raise CompressError(f"structured pruning cannot shrink through layer {n!r} "
                                    f"({type(m).__name__}) between {name_a!r} and {name_b!r}")
        for n, m in ((name_a, la), (name_b, lb)):
            if getattr(m, "groups", 1) != 1:
                raise CompressError(f"structured pruning cannot shrink grouped convolution {n!r}")
        out = la.weight.shape[0]
        n_keep = max(1, out - int(amount * out))
        norms = la.weight.detach().flatten(1).norm(dim=1)
        keep = torch.sort(torch.topk(norms, n_keep).indices).values
        drop = torch.tensor(sorted(set(range(out)) - set(keep.tolist())), dtype=torch.long)
        removed_total += out - n_keep
        w_b = lb.weight.detach()
        conv_to_linear = isinstance(lb, nn.Linear) and not isinstance(la, nn.Linear)
        if isinstance(la, nn.Linear) and isinstance(lb, nn.Linear) and la.bias is not None \
                and all(isinstance(m, _ELEMENTWISE + (nn.BatchNorm1d,)) for m in between) \
                and len(drop):
            # A removed neuron still emits f(bias): fold that constant into the next bias.
            with torch.no_grad():
                x = la.bias.detach().unsqueeze(0)
                was = [m.training for m in between]
                for m in between:
                    m.eval()
                    x = m(x)
                for m, t in zip(between, was):
                    m.train(t)
                const = w_b[:, drop] @ x[0, drop]
                if lb.bias is None:
                    lb.bias = nn.Parameter(torch.zeros(w_b.shape[0], device=w_b.device,
                                                       dtype=w_b.dtype))
                _set(lb, "bias", lb.bias.detach() + const)
        elif len(drop):
            folded = False
        _set(la, "weight", la.weight.detach()[keep])
        if la.bias is not None:
            _set(la, "bias", la.bias.detach()[keep])
        if isinstance(la, nn.Linear):
            la.out_features = n_keep
        else:
            la.out_channels = n_keep
        for m in between:
            if isinstance(m, _BATCHNORM):
                if m.affine:
                    _set(m, "weight", m.weight.detach()[keep])
                    _set(m, "bias", m.bias.detach()[keep])
                if m.track_running_stats:
                    m.running_mean = m.running_mean[keep].clone()
                    m.running_var = m.running_var[keep].clone()
                m.num_features = n_keep
        if conv_to_linear:
            spatial, rest = divmod(lb.in_features, out)
            if rest:
                raise CompressError(f"cannot map the {out} channels of {name_a!r} onto the "
                                    f"{lb.in_features} inputs of {name_b!r}")
            cols = (keep.unsqueeze(1) * spatial + torch.arange(spatial)).flatten()
            _set(lb, "weight", w_b[:, cols])
            lb.in_features = len(cols)
        else:
            _set(lb, "weight", w_b[:, keep])
            if isinstance(lb, nn.Linear):
                lb.in_features = n_keep
            else:
                lb.in_channels = n_keep
    note = "" if folded else " (bias of removed conv channels not folded)"
    return (f"structured pruning: removed {removed_total} of the hidden neurons/channels "
            f"({amount:.0%} of each of {len(idx) - 1} layers){note}")


class Int8WeightOnlyLinear(nn.Module):
    """A Linear layer with int8 weights and one scale per output channel; activations stay
    in floating point. Saves memory (weights 4× smaller than fp32), not compute."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach()
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).clamp(-127, 127)
                             .to(torch.int8))
        self.register_buffer("scale", scale.to(w.dtype))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x):
        w = self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]
        return F.linear(x, w, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def _replace_linears(model: nn.Module, make, skip=()) -> int:
    """Replace every ``nn.Linear`` (except the module names in ``skip``) by ``make(linear)``."""
    n = 0
    for pname, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and (f"{pname}.{name}" if pname else name) not in skip:
                setattr(parent, name, make(child))
                n += 1
    return n
