"""Keep a compressed model: one file, loaded back as the same module.

Every layer ``compress`` puts in a torch model pickles (its int8 Conv keeps plain int8
buffers; torch.ao's dynamic int8 Linear pickles its packed weight), so this is
``torch.save`` of the whole module with a check that it loads back, and ``torch.load``
with ``weights_only=False`` (the file holds code references: load only files you trust).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..errors import CompressError

__all__ = ["save_compressed", "load_compressed"]


def save_compressed(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model`` (compressed or not) to ``path``; load it with :func:`load_compressed`."""
    buf = io.BytesIO()
    try:
        torch.save(model, buf)
    except Exception as e:
        raise CompressError(f"cannot save {type(model).__name__}: {type(e).__name__}: {e}") from e
    path = Path(path)
    path.write_bytes(buf.getvalue())
    return path


def load_compressed(path: str | Path, map_location=None) -> torch.nn.Module:
    """The module :func:`save_compressed` wrote (its classes must be importable here)."""
    return torch.load(Path(path), map_location=map_location, weights_only=False)
