"""The trials of a search as tables: Optuna's DataFrame layout with the metric names, and a
text summary of the best trials in the shape of Keras Tuner's ``results_summary``."""

from __future__ import annotations

from .results import Snapshot, best_of

__all__ = ["trials_dataframe", "summary"]

_INTERNAL = "aimauto_nb.choice_index"


def trials_dataframe(study, attrs: tuple[str, ...] | None = None, multi_index: bool = False):
    """``study.trials_dataframe()`` without this package's internal columns, its error
    attribute as ``error``; the metric names come from ``study.set_metric_names``."""
    kw = {} if attrs is None else {"attrs": tuple(attrs)}
    df = study.trials_dataframe(multi_index=multi_index, **kw)
    if multi_index:
        df = df.drop(columns=[c for c in df.columns if c[1] == _INTERNAL])
        return df.rename(columns={"aimauto_nb.error": "error"}, level=1)
    df = df.drop(columns=[c for c in df.columns if c.endswith(_INTERNAL)])
    return df.rename(columns={"user_attrs_aimauto_nb.error": "user_attrs_error"})


def summary(snap: Snapshot, num_trials: int, location: str, study_name: str) -> str:
    """The best ``num_trials`` complete trials, best first: parameters and metric values."""
    done = [r for r in snap.trials if r.state == "complete"]
    ranked = []
    while done and len(ranked) < num_trials:
        b = best_of(done, snap.metrics)
        ranked.append(b)
        done.remove(b)
    objective = ", ".join(f"{m.name} ({m.direction})" for m in snap.metrics)
    lines = ["Results summary", f"Results in {location} (study {study_name})",
             f"Showing {len(ranked)} best trials", f"Objective: {objective}"]
    for r in ranked:
        lines += ["", f"Trial {r.number} summary", "Hyperparameters:"]
        lines += [f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in r.params.items()]
        lines.append("Score: " + ", ".join(f"{m.name}={m.format(r.values[m.name])}"
                                           for m in snap.metrics))
    return "\n".join(lines)
