"""``nn.MultiheadAttention`` rebuilt from two ``nn.Linear`` layers, so int8 quantizers that
work layer by layer (``torch.ao.quantize_dynamic``) can reach its projections.

``nn.MultiheadAttention`` keeps its input projection as a bare ``in_proj_weight`` parameter,
which neither torch.ao nor torchao quantizes; in a Transformer that is a third of the weights.
Written by hand (no library swaps it) and checked against the original in the tests.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LinearAttention", "swap_attention"]


class LinearAttention(nn.Module):
    """Same maths and call signature as a ``nn.MultiheadAttention`` with one embedding size
    for query, key and value (no ``add_bias_kv``, ``add_zero_attn``); dropout is dropped (the
    model is quantized for inference)."""

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        E = mha.embed_dim
        self.embed_dim, self.num_heads, self.batch_first = E, mha.num_heads, mha.batch_first
        self._qkv_same_embed_dim = True
        self.in_proj_bias = None  # tells Transformer layers to skip their fused fast path
        bias = mha.in_proj_bias is not None
        dev, dt = mha.in_proj_weight.device, mha.in_proj_weight.dtype
        self.in_proj = nn.Linear(E, 3 * E, bias=bias, device=dev, dtype=dt)
        self.out_proj = nn.Linear(E, E, bias=mha.out_proj.bias is not None, device=dev, dtype=dt)
        with torch.no_grad():
            self.in_proj.weight.copy_(mha.in_proj_weight)
            if bias:
                self.in_proj.bias.copy_(mha.in_proj_bias)
            self.out_proj.weight.copy_(mha.out_proj.weight)
            if self.out_proj.bias is not None:
                self.out_proj.bias.copy_(mha.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        E, H = self.embed_dim, self.num_heads
        if query is key and key is value:
            q, k, v = self.in_proj(query).split(E, dim=-1)
        else:
            q = self.in_proj(query)[..., :E]
            k = self.in_proj(key)[..., E:2 * E]
            v = self.in_proj(value)[..., 2 * E:]
        B, L, S = q.shape[0], q.shape[1], k.shape[1]
        q, k, v = (t.reshape(B, -1, H, E // H).transpose(1, 2) for t in (q, k, v))
        mask = None
        if attn_mask is not None:
            mask = attn_mask if attn_mask.dtype != torch.bool else \
                torch.zeros_like(attn_mask, dtype=q.dtype).masked_fill(attn_mask, -math.inf)
            mask = mask.reshape(-1, H, L, S) if mask.dim() == 3 else mask
        elif is_causal:
            mask = torch.full((L, S), -math.inf, device=q.device, dtype=q.dtype).triu(1)
        if key_padding_mask is not None:
            kp = key_padding_mask if key_padding_mask.dtype != torch.bool else torch.zeros_like(
                key_padding_mask, dtype=q.dtype).masked_fill(key_padding_mask, -math.inf)
            kp = kp.reshape(B, 1, 1, S)
            mask = kp if mask is None else mask + kp
        scores = q @ k.transpose(-2, -1) / math.sqrt(E // H)
        if mask is not None:
            scores = scores + mask
        weights = scores.softmax(-1)
        out = (weights @ v).transpose(1, 2).reshape(B, L, E)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, weights.mean(1) if average_attn_weights else weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


def swap_attention(model: nn.Module) -> list[str]:
    """Replace every plain ``nn.MultiheadAttention`` by a :class:`LinearAttention` in place;
    returns the names replaced. Transformer layers holding one skip their fused fast path."""
    done = []
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if (type(child) is nn.MultiheadAttention and child._qkv_same_embed_dim
                    and child.bias_k is None and not child.add_zero_attn):
                setattr(parent, name, LinearAttention(child))
                done.append(f"{parent_name}.{name}" if parent_name else name)
    if done:
        for m in model.modules():
            if isinstance(m, nn.TransformerEncoder):
                m.use_nested_tensor = False
    return done
