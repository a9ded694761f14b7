"""``compress(model, "auto", data=...)`` for torch: measure candidate recipes, keep the best.

Each candidate runs on a copy of the model (so a failing or losing one costs nothing), is
timed against the original on the same batch, interleaved, and scored on ``data``; the best
for ``goal`` among those within ``tolerance`` points of the original metric is applied in
place. If none beats the original, the model is left as it was and the report says so.
"""

from __future__ import annotations

import copy

from ..errors import CompressError, InputError
from .report import CompressReport

__all__ = ["compress_auto", "CANDIDATES"]

#: (label, compress_torch keyword arguments); int8 last so pruning is timed on its own too
CANDIDATES = (
    ("int8", dict(quantize="int8")),
    ("structured 25%", dict(prune=0.25, structured=True)),
    ("structured 50%", dict(prune=0.5, structured=True)),
    ("structured 25% + int8", dict(prune=0.25, structured=True, quantize="int8")),
    ("structured 50% + int8", dict(prune=0.5, structured=True, quantize="int8")),
)


def _score(rep: CompressReport, goal: str) -> float:
    return (rep.size_ratio if goal == "size" else rep.speedup) or 0.0


def compress_auto(model, data, tolerance: float, goal: str, device=None, example_inputs=None,
                  int8_backend=None) -> CompressReport:
    """Try :data:`CANDIDATES` on copies of ``model``; apply the best in place (see module)."""
    from .torch_flow import compress_torch

    original = copy.deepcopy(model)
    tried, best, first = [], None, None
    for label, kw in CANDIDATES:
        cand = copy.deepcopy(original)
        try:
            rep = compress_torch(cand, kw.get("prune"), kw.get("structured", False),
                                 kw.get("quantize"), device, data, example_inputs=example_inputs,
                                 int8_backend=int8_backend if "quantize" in kw else None,
                                 reference=original, progress=False,
                                 int8_policy="all" if goal == "size" else "faster")
        except (CompressError, InputError) as e:
            tried.append(dict(recipe=label, error=str(e).splitlines()[0]))
            continue
        first = first or rep
        loss = (rep.metric_before - rep.metric_after) * 100
        ok = loss <= tolerance
        tried.append(dict(recipe=label, size=rep.size_ratio, speed=rep.speedup,
                          metric=rep.metric_after, within=ok))
        if ok and _score(rep, goal) > 1.0 and (best is None or _score(rep, goal) > _score(best[1], goal)):
            best = (label, rep, cand)
    if best is None:
        rep = CompressReport(model_type=type(model).__name__, device=str(device or "cpu"))
        if first is not None:
            rep.metric, rep.metric_before, rep.metric_after = first.metric, first.metric_before, \
                first.metric_before
            rep.size_before = rep.size_after = first.size_before
        rep.steps.append(f"auto: no candidate was better for {goal} within {tolerance:g} points; "
                         "the model is unchanged")
        rep.candidates = tried
        return rep
    label, rep, cand = best
    model.__dict__.clear()
    model.__dict__.update(cand.__dict__)
    rep.steps.insert(0, f"auto ({goal}, tolerance {tolerance:g} points): chose {label}")
    rep.candidates = tried
    return rep
