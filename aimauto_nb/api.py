"""The public entry points that join the core and its views: :func:`search` starts a
:class:`~aimauto_nb.facade.Search` and attaches the panel or the text line; :func:`tune`
opens the form; :func:`plot_pareto` and :func:`plot_history` draw a search's charts.
Heavy imports happen inside the functions, so ``import aimauto_nb`` stays light."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .core.facade import Search

__all__ = ["search", "tune", "plot_pareto", "plot_history", "dashboard"]


def search(source: str | Callable, *, data: tuple | None = None, valid: float | tuple | None = None,
           cv: int | Any | None = None, metrics: str | Sequence[str] = ("auto",),
           trials: int | None = None, timeout: float | None = None, strategy: Any = "auto",
           jobs: int | None = None, executor: Any = "thread", storage: Any = None,
           name: str | None = None, resume: bool = False, seed: int | None = None,
           pruner: Any = None, trial_timeout: float | None = None, namespace: dict | None = None,
           stop_when_converged: bool | int = False, warm_start: Any = True,
           threads: int | bool | None = None, devices: Any = None, trials_per_device: int = 1,
           display: bool = True) -> Search:
    """Start a search over the ``hp`` markers of ``source`` and return at once.

    The search runs in a background thread; read the returned :class:`Search` at any
    time, ``wait()`` for it, or ``stop()`` it. Every argument is checked before any work
    starts; a bad one raises ``ValueError`` naming it.

    Parameters
    ----------
    source : str or callable
        Cell text with ``hp.int`` / ``hp.float`` / ``hp.choice`` markers that defines
        ``model`` (an unfitted estimator the search fits) or ``score`` (a number or a dict
        of metric name to number); or a callable ``build(hp)`` returning a model, a score,
        or ``(model, score)``.
    data : tuple (X, y), optional
        Training data. Needed unless the cell sets ``score`` itself.
    valid : float or tuple (X_valid, y_valid), optional
        Holdout fraction (default 0.2, stratified for classification) or an explicit
        validation set.
    cv : int or scikit-learn splitter, optional
        K-fold cross-validation instead of a holdout (``best_model`` is then refit on all
        of ``data`` at first access).
    metrics : str or sequence of str, default "auto"
        Objectives, the first one primary: ``accuracy, balanced_accuracy, f1, roc_auc,
        log_loss, r2, rmse, mae, size, latency, fit_time, gpu_memory``, or ``name:max`` / ``name:min``
        for keys of a ``score`` dict. ``auto`` is accuracy (classification), r2
        (regression), or the cell's ``score`` without data. Several make a multi-objective
        study.
    trials : int, optional
        Number of trials. Give ``trials``, ``timeout`` or both (a grid defaults to its size).
    timeout : float, optional
        Wall-clock budget in seconds; no trial starts after it.
    strategy : str or optuna.samplers.BaseSampler, default "auto"
        ``auto`` (a Gaussian process on all-numeric spaces while it pays, else TPE; the rule:
        :class:`~aimauto_nb.core.strategies.AutoSampler`), ``tpe``, ``random``, ``grid``,
        ``nsga2``, ``gp``, ``cmaes``, or any Optuna sampler instance.
    jobs : int, optional
        Trials at once: default 1 on threads, cores - 1 on processes, the cluster's threads
        on Dask.
    executor : str, dask Client or concurrent.futures.Executor, default "thread"
        ``thread``, ``process`` (loky workers; notebook-defined functions work), ``dask``
        (a LocalCluster the search owns), a scheduler address ``tcp://host:port``, a
        ``distributed.Client``, or any ``Executor``.
    storage : str, optuna.storages.BaseStorage or False, optional
        Omitted: a journal file under ``.aimauto/`` in the working directory (``$AIMAUTO_DIR``
        moves it), a new study ``name-YYYYMMDD-HHMMSS`` per run. ``sqlite:///file.db`` (or
        another SQLAlchemy URL), ``journal:///file.log`` or an Optuna storage: the study
        ``name`` there. ``":memory:"`` or ``False``: nothing written.
    name : str, optional
        Search name (default ``search``): letters, digits, ``_ . -``.
    resume : bool, default False
        Continue the study of this ``name`` in ``storage`` (in the default journal: its
        latest run); without one stored, start it.
    seed : int, optional
        Seeds the sampler and the validation split.
    pruner : str or optuna.pruners.BasePruner, optional
        ``auto``, ``median``, ``halving``, ``hyperband``, ``none``, or an Optuna pruner:
        stops trials whose reported intermediate values lag. With ``cv``, a ``model`` cell
        reports the running mean of the first metric after each fold but the last (step:
        folds done), and ``auto`` waits 2 folds.
    trial_timeout : float, optional
        Seconds after which a trial is recorded failed (process workers are killed).
    namespace : dict, optional
        Names the cell may read (the notebook's namespace in the magic); never modified.
    stop_when_converged : bool or int, default False
        End the search once it has converged: no better trial (multi-objective: no new
        Pareto-optimal trial) in the last ``patience`` complete trials (an int sets it;
        default 20, or 8 per parameter). The signal shows in the panel and status line
        either way; ``search.stop_reason`` says why a search ended.
    warm_start : bool, Search, optuna.Study or tuple (storage, study_name), default True
        Configurations tried first. ``True``: the shipped portfolio of strong configurations
        for LightGBM, scikit-learn forests, (Hist)GradientBoosting, LogisticRegression, SVC,
        KNN and MLP, when the cell's markers are keyword arguments of one of them. A previous
        search or study: its best 5 trials. Only the cell's parameters are used; a number
        outside the cell's range is clipped to it, an option it lacks dropped. ``auto`` models
        from them on: its TPE / GP start 2 trials after them, not after 10. ``False``: none.
    threads : int or False, optional
        Threads each running trial may use (OpenMP/BLAS pools, estimators' ``n_jobs`` /
        ``num_threads`` / ``thread_count`` the cell leaves unset, torch): default
        ``cores // jobs``; ``False`` leaves them alone. Threads and processes only.
    devices : "cuda", list of str or int, optional
        GPUs the trials run on, one trial per device (``trials_per_device`` lets several
        share one): ``"cuda"`` (all), ``["cuda:0", "cuda:1"]`` or a count. The cell reads
        its device from the variable ``device``; process workers see only theirs
        (``CUDA_VISIBLE_DEVICES``, so ``device`` is ``"cuda:0"``). ``jobs`` defaults to the
        places on the devices.
    trials_per_device : int, default 1
        Trials that share one device at once.
    display : bool, default True
        Show the live panel in a notebook, or a text progress line elsewhere.

    Returns
    -------
    Search
        Already started.
    """
    from .core.config import SearchConfig
    from .notebook.launch import launch

    config = SearchConfig.build(
        source, data=data, valid=valid, cv=cv, metrics=metrics, trials=trials, timeout=timeout,
        strategy=strategy, jobs=jobs, executor=executor, storage=storage, name=name,
        resume=resume, seed=seed, pruner=pruner, trial_timeout=trial_timeout,
        namespace=namespace, stop_when_converged=stop_when_converged, warm_start=warm_start,
        threads=threads, devices=devices, trials_per_device=trials_per_device)
    return launch(config, display=display)


def tune(estimator, data: tuple, **kw):
    """A form over ``estimator``'s parameters that writes the ``%%aimsearch`` cell and
    starts the search; see :class:`aimauto_nb.notebook.form.Tuner` for the options."""
    from .notebook.form import Tuner

    return Tuner(estimator, data, **kw)


def plot_pareto(search: Search, ax=None) -> Figure:
    """A matplotlib Figure of the trials with the Pareto front highlighted and the best
    trial marked (one metric: the metric against trial number)."""
    from .notebook.plots import pareto_figure

    return pareto_figure(search.snapshot(), ax=ax)


def plot_history(search: Search) -> Figure:
    """Each trial's primary metric by trial number, with the best so far as a step line."""
    from .notebook.plots import history_figure

    return history_figure(search.snapshot())


def dashboard(storage: Any = None, *, stop: bool = False, port: int = 0,
              writable: bool = False):
    """optuna-dashboard over ``storage`` (default: the journal under ``.aimauto/``), served
    from this process on 127.0.0.1 until ``dashboard(storage, stop=True)`` or exit; see
    :meth:`Search.dashboard <aimauto_nb.core.facade.Search.dashboard>` for one search's
    (a token in its URL, loopback ``Host`` only, read-only unless ``writable=True``).

    Returns
    -------
    Dashboard or None
        ``url``; a link and an IFrame in notebooks. ``None`` after ``stop=True``.
    """
    from .storage.dashboard import for_storage

    return for_storage(storage, stop=stop, port=port, writable=writable)
