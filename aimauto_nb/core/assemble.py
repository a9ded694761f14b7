"""Everything a :class:`~aimauto_nb.core.facade.Search` is made of, built from its config:
the sampler and pruner, the storage and the study (created, or resumed with its history),
the kept-models store, the trials to enqueue first (retries, warm start), and the driver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle
import optuna

from ..errors import ConfigError
from ..runners import runner_class
from ..runtime.trial import Spec
from ..storage.default import DefaultStorage, open_target, tag_study
from ..storage.lease import Lease
from ..storage.models import KeptModels, ModelStore, StudyChecksums, keep_runs, prune_old_runs
from ..storage.permissions import private_dir
from ..storage.study import open_study, signature
from .config import SearchConfig
from .driver import Driver
from .history import history
from .pruning import make_pruner, pruning_policy
from .results import Identity, Results
from .strategies import AutoSampler, make_sampler
from .warmstart import resolve as resolve_warm_start

__all__ = ["Parts", "assemble", "build_spec"]


@dataclass
class Parts:
    sampler: optuna.samplers.BaseSampler
    study: optuna.Study
    storage: Any
    results: Results
    kept: KeptModels
    driver: Driver


def build_spec(config: SearchConfig, auto_report: bool) -> Spec:
    """What every trial shares. A runner that does not share the kernel's memory gets the
    namespace cut to the names the cell reads; one that sends it to other processes gets it
    pickled once here (so a value that cannot travel is refused before any trial)."""
    runner = runner_class(config.executor)
    ns = config.namespace
    if not runner.shares_memory:
        ns = {k: ns[k] for k in config.program.references if k in ns}
    spec = Spec(config.program, ns, config.data, config.metrics, auto_report=auto_report,
                resources=config.resources)
    if runner.pickles_namespace:
        try:
            spec.namespace_blob = cloudpickle.dumps(ns)
        except Exception as e:
            raise ConfigError(f"namespace: the cell uses a value that cannot be sent to a worker "
                              f"process ({e}); use executor='thread'") from e
    return spec


def assemble(config: SearchConfig, notify: Callable[[], None]) -> Parts:
    pruner = make_pruner(config.pruner, folds=config.data is not None and config.data.is_cv)
    metrics = config.metrics
    sampler = make_sampler(config.strategy, metrics, config.program.space, config.seed,
                           timed=config.timeout is not None)
    spec = build_spec(config, auto_report=pruner is not None)
    storage, models_dir, study_name = open_target(config.storage, config.name, config.resume)
    if models_dir is not None:
        spec.scratch = str(models_dir.parent)
    # Without an explicit pruner Optuna attaches a MedianPruner, which `should_prune` would
    # then consult whatever pruner the user asked for.
    study_pruner = pruner if pruner is not None and len(metrics) == 1 else optuna.pruners.NopPruner()
    study, retry = open_study(storage, study_name, metrics, sampler, study_pruner,
                              signature(config.program, metrics), config.resume)
    tag_study(study, config.name, metrics, strategy=config.strategy_name, protocol=config.protocol,
              source=config.program.source)
    results = Results(metrics, patience=config.patience, identity=Identity(
        config.name, config.strategy_name, config.protocol, config.trials, config.timeout,
        config.resources.describe()))
    for rec in history(study, metrics):
        results.put(rec)
    data = config.data
    kept = KeptModels(ModelStore(models_dir, study_name, StudyChecksums(study)),
                      refit_on=(data.X, data.y) if data is not None and data.is_cv else None)
    if isinstance(config.storage, DefaultStorage):  # every run is a study: bound their models
        private_dir(kept.store.folder)
        prune_old_runs(models_dir, config.name, keep_runs())
    queue = [(params, "retry of a trial left running") for params in retry]
    if config.strategy != "grid" and not study.get_trials(deepcopy=False):
        # (a resumed study has its own history; a grid tries every point anyway)
        warm = resolve_warm_start(config.warm_start, config.program.space)
        if isinstance(sampler, AutoSampler):
            sampler.start_from(len(warm))
        queue += warm
    lease = Lease(study, storage) if storage is not None else None
    driver = Driver(config, study, spec, results, kept, pruning_policy(pruner, metrics), queue,
                    notify, lease=lease)
    return Parts(sampler, study, storage if storage is not None else study._storage, results,
                 kept, driver)
