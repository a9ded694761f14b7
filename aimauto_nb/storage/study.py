"""Open the study behind a search: create it, or load it to resume after checking that
its stored signature (search space and metrics) matches the cell's; trials a dead kernel
left running (and, at open, unowned ones older than the lease window) are failed and
returned for a retry."""

from __future__ import annotations

import json

import optuna
from optuna.storages import BaseStorage

from ..errors import StorageError
from ..runtime.metrics import Metric
from ..space import CellProgram
from .lease import fail_stale

__all__ = ["open_study", "signature"]

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" in cells


def signature(program: CellProgram, metrics: tuple[Metric, ...]) -> str:
    """The search space and metrics, as stored with the study: resuming a study with a
    different signature is refused."""
    space = program.space
    params = {}
    if space is not None:
        params = {m.name or f"<line {m.lineno}>": m.kind for m in space.markers}
        for name, p in space.static_params.items():
            params[name] = repr(p.distribution())
    doc = {"metrics": [f"{m.name}:{m.direction}" for m in metrics], "params": params}
    return json.dumps(doc, sort_keys=True)


def _exists(storage: BaseStorage, name: str) -> bool:
    try:
        storage.get_study_id_from_name(name)
        return True
    except KeyError:
        return False


def open_study(storage: BaseStorage | None, name: str, metrics: tuple[Metric, ...],
               sampler, pruner, sig: str, resume: bool) -> tuple[optuna.Study, list[dict]]:
    """Create the study, or load it to resume; returns it with the parameters of trials a
    dead kernel left running (to be retried)."""
    directions = [m.direction for m in metrics]
    if storage is not None and _exists(storage, name):
        if not resume:
            raise StorageError(f"a study named {name!r} already exists in this storage; "
                             "pass resume=True to continue it, or another name")
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        old = study.user_attrs.get("aimauto_nb.signature")
        if old is not None and old != sig:
            raise StorageError(f"cannot resume {name!r}: its search space or metrics differ from "
                             f"this cell's.\n  stored: {old}\n  now:    {sig}")
        return study, fail_stale(study, storage, unowned=True)
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                directions=directions, study_name=name)
    study.set_user_attr("aimauto_nb.signature", sig)
    return study, []


