"""``tune(estimator, data=(X, y))``: a form that builds a search from an estimator's
parameters, for users who would rather point and click than write ``hp`` markers.

The form is a way into the code, not a separate world: it writes an ordinary
``%%aimsearch`` cell (``Tuner.code()``), and its Search button runs exactly that cell
through :func:`aimauto_nb.search`, with the same live panel.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import ipywidgets as W

from ..core.config import SearchConfig, check_budget, check_name
from ..core.strategies import STRATEGIES
from ..errors import ConfigError, InputError
from ..runners import EXECUTORS
from .launch import launch

__all__ = ["Tuner", "Range", "ranges_for"]


@dataclass
class Range:
    """One parameter's search range: ``kind`` int / float / choice."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    options: tuple = ()
    tune: bool = True  # ticked by default

    def marker(self) -> str:
        if self.kind == "choice":
            return f"hp.choice({list(self.options)!r})"
        fmt = (lambda v: str(int(v))) if self.kind == "int" else repr
        log = ", log=True" if self.log else ""
        return f"hp.{self.kind}({fmt(self.low)}, {fmt(self.high)}{log})"

    def problem(self) -> str | None:
        """Why this range cannot be searched, or None."""
        if self.kind == "choice":
            return None if self.options else f"{self.name}: select at least one option"
        if self.low is None or self.high is None or not (
                math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.name}: give both bounds"
        if self.low >= self.high:
            return f"{self.name}: the range is empty (low {self.low} ≥ high {self.high})"
        if self.log and self.low <= 0:
            return f"{self.name}: a log scale needs a positive low bound (got {self.low})"
        if self.kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            return f"{self.name}: integer bounds expected"
        return None


def _R(name, kind, low=None, high=None, log=False, options=()):
    return Range(name, kind, low, high, log, tuple(options))


_LGBM = [_R("n_estimators", "int", 50, 1000, True), _R("learning_rate", "float", 0.005, 0.3, True),
         _R("num_leaves", "int", 8, 256, True), _R("min_child_samples", "int", 5, 100, True),
         _R("colsample_bytree", "float", 0.5, 1.0), _R("reg_lambda", "float", 1e-3, 10.0, True)]
_FOREST = [_R("n_estimators", "int", 50, 500, True), _R("max_depth", "int", 2, 32),
           _R("min_samples_leaf", "int", 1, 20, True)]
_GB = [_R("n_estimators", "int", 50, 500, True), _R("learning_rate", "float", 0.01, 0.3, True),
       _R("max_depth", "int", 2, 8), _R("subsample", "float", 0.5, 1.0)]
_HGB = [_R("max_iter", "int", 50, 500, True), _R("learning_rate", "float", 0.01, 0.3, True),
        _R("max_leaf_nodes", "int", 8, 128, True), _R("min_samples_leaf", "int", 5, 100, True),
        _R("l2_regularization", "float", 1e-4, 10.0, True)]
_KNN = [_R("n_neighbors", "int", 1, 50, True), _R("weights", "choice", options=["uniform", "distance"]),
        _R("p", "choice", options=[1, 2])]
_MLP = [_R("hidden_layer_sizes", "choice", options=[(64,), (128,), (64, 64), (128, 64)]),
        _R("alpha", "float", 1e-6, 1e-1, True), _R("learning_rate_init", "float", 1e-4, 1e-1, True)]
_SVM = [_R("C", "float", 1e-2, 1e3, True), _R("gamma", "float", 1e-4, 1.0, True)]
_XGB = [_R("n_estimators", "int", 50, 1000, True), _R("learning_rate", "float", 0.005, 0.3, True),
        _R("max_depth", "int", 2, 12), _R("min_child_weight", "float", 0.5, 20.0, True),
        _R("subsample", "float", 0.5, 1.0), _R("colsample_bytree", "float", 0.5, 1.0),
        _R("reg_lambda", "float", 1e-3, 10.0, True)]
_CATBOOST = [_R("iterations", "int", 50, 1000, True), _R("learning_rate", "float", 0.005, 0.3, True),
             _R("depth", "int", 2, 10), _R("l2_leaf_reg", "float", 0.5, 30.0, True),
             _R("random_strength", "float", 1e-2, 10.0, True)]

#: parameters the written cell sets unless the estimator has its own value (CatBoost would
#: print every iteration and write ``catboost_info/`` into the working directory)
QUIET: dict[str, dict] = {
    "CatBoostClassifier": {"verbose": 0, "allow_writing_files": False},
    "CatBoostRegressor": {"verbose": 0, "allow_writing_files": False},
}

#: curated ranges for the estimators people tune most (the rest are inferred)
CURATED: dict[str, list[Range]] = {
    "LGBMClassifier": _LGBM, "LGBMRegressor": _LGBM,
    "RandomForestClassifier": _FOREST + [_R("max_features", "choice", options=["sqrt", "log2", None])],
    "RandomForestRegressor": _FOREST + [_R("max_features", "choice", options=[1.0, "sqrt", "log2"])],
    "ExtraTreesClassifier": _FOREST + [_R("max_features", "choice", options=["sqrt", "log2", None])],
    "ExtraTreesRegressor": _FOREST + [_R("max_features", "choice", options=[1.0, "sqrt", "log2"])],
    "GradientBoostingClassifier": _GB, "GradientBoostingRegressor": _GB,
    "HistGradientBoostingClassifier": _HGB, "HistGradientBoostingRegressor": _HGB,
    "LogisticRegression": [_R("C", "float", 1e-3, 1e3, True)],
    "Ridge": [_R("alpha", "float", 1e-3, 1e3, True)],
    "SVC": _SVM + [_R("kernel", "choice", options=["rbf", "linear"])],
    "SVR": _SVM + [_R("epsilon", "float", 1e-3, 1.0, True)],
    "KNeighborsClassifier": _KNN, "KNeighborsRegressor": _KNN,
    "MLPClassifier": _MLP, "MLPRegressor": _MLP,
    "XGBClassifier": _XGB, "XGBRegressor": _XGB,
    "CatBoostClassifier": _CATBOOST, "CatBoostRegressor": _CATBOOST,
}


def _accepted(estimator) -> set[str]:
    """Parameter names the estimator takes: ``get_params`` (scikit-learn lists them all,
    CatBoost only those set) and the named arguments of its constructor."""
    names = set(estimator.get_params(deep=False))
    try:
        sig = inspect.signature(type(estimator).__init__)
    except (TypeError, ValueError):
        return names
    return names | {n for n, p in sig.parameters.items()
                    if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _inferred(name: str, value) -> Range | None:
    """A range from a default value's type (unticked: the user opts in)."""
    if isinstance(value, bool):
        return Range(name, "choice", options=(True, False), tune=False)
    if isinstance(value, int) and value >= 1:
        low = max(1, min(value, 2), value // 4)  # a default of 2 is usually also the minimum
        return Range(name, "int", low, max(value * 4, value + 4), log=value >= 2, tune=False)
    if isinstance(value, float) and value > 0:
        if value < 1:
            return Range(name, "float", value / 10, min(1.0, value * 10), log=True, tune=False)
        return Range(name, "float", value / 10, value * 10, log=True, tune=False)
    return None


def _intervals(estimator, name: str) -> list | None:
    """scikit-learn's ``Interval`` constraints on a parameter; None when the estimator
    declares none for it (not scikit-learn, or no numeric constraint)."""
    declared = getattr(type(estimator), "_parameter_constraints", None) or {}
    if name not in declared:
        return None
    try:
        from sklearn.utils._param_validation import Interval, make_constraint
    except ImportError:  # private module: moved in a later release
        return None
    cons = [make_constraint(c) for c in declared[name]]
    return [c for c in cons if isinstance(c, Interval)], cons


def _within(estimator, r: Range) -> Range | None:
    """``r`` with its bounds moved inside the estimator's declared interval (an open end
    by a thousandth of the width, 1 for integers); None when no interval fits."""
    found = _intervals(estimator, r.name)
    if found is None or r.kind == "choice":
        return r
    intervals, cons = found
    step = 1 if r.kind == "int" else 1e-3 * (r.high - r.low)
    for iv in intervals:
        low, high = r.low, r.high
        if iv.left is not None:
            low = max(low, iv.left + (0 if iv.closed in ("left", "both") else step))
        if iv.right is not None:
            high = min(high, iv.right - (0 if iv.closed in ("right", "both") else step))
        cast = int if r.kind == "int" else float
        low, high = cast(low), cast(high)
        if low < high and all(any(c.is_satisfied_by(v) for c in cons) for v in (low, high)):
            return Range(r.name, r.kind, low, high, r.log, r.options, r.tune)
    return None if intervals else r


def ranges_for(estimator) -> list[Range]:
    """Curated ranges for known estimators, then inferred ones for the other parameters."""
    params = estimator.get_params(deep=False)
    accepted = _accepted(estimator)
    curated = [Range(**vars(r)) for r in CURATED.get(type(estimator).__name__, [])
               if r.name in accepted]
    known = {r.name for r in curated}
    skip = {"random_state", "n_jobs", "verbose", "verbosity", "warm_start", "copy_X",
            "class_weight", "max_bins", "early_stopping", "validation_fraction", "tol"}
    inferred = [r for n, v in params.items() if n not in known and n not in skip
                for r in [_inferred(n, v)] if r is not None
                for r in [_within(estimator, r)] if r is not None]
    return curated + inferred


def _literal(v) -> str | None:
    """``repr(v)`` when it reads back as ``v`` (so it can sit in generated code)."""
    try:
        text = repr(v)
        return text if eval(text, {}) == v else None  # noqa: S307 - our own repr of a literal
    except Exception:
        return None


def _import_line(estimator) -> str:
    """``from <shortest public module exposing the class> import Class``."""
    import importlib

    cls = type(estimator)
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        module = ".".join(parts[:i])
        try:
            if getattr(importlib.import_module(module), cls.__name__, None) is cls:
                return f"from {module} import {cls.__name__}"
        except ImportError:
            continue
    return f"from {cls.__module__} import {cls.__name__}"


class Tuner:
    """The form. ``tuner.code()`` is the equivalent cell; ``tuner.start()`` (or the Search
    button) runs it; ``tuner.search`` is the running :class:`~aimauto_nb.facade.Search`."""

    def __init__(self, estimator, data, *, names=("X", "y"), metrics="auto", trials=40,
                 timeout=None, strategy="auto", jobs=1, executor="thread", name="search",
                 namespace=None):
        if inspect.isclass(estimator):
            estimator = estimator()
        if not hasattr(estimator, "get_params") or not hasattr(estimator, "fit"):
            raise TypeError(f"tune needs a scikit-learn style estimator (get_params/fit), got "
                            f"{type(estimator).__name__}")
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise InputError("data must be a pair (X, y)")
        self.estimator, self.data, self.names = estimator, tuple(data), tuple(names)
        if namespace is None:  # bind the Search in the notebook, as %%aimsearch does
            from IPython import get_ipython

            ip = get_ipython()
            namespace = ip.user_ns if ip is not None else None
        self.namespace = namespace
        self.search = None
        self.ranges = ranges_for(estimator)
        self._rows = [self._row(r) for r in self.ranges]

        self.metrics = W.Text(value=metrics, description="metrics",
                              tooltip="comma-separated, first is primary: accuracy,size,latency")
        self.strategy = W.Dropdown(options=STRATEGIES, value=strategy, description="strategy")
        self.trials = W.BoundedIntText(value=trials or 0, min=0, max=100_000, description="trials",
                                       tooltip="0 = no trial limit (then give a timeout)")
        self.timeout = W.BoundedFloatText(value=timeout or 0, min=0, max=1e7, description="timeout s",
                                          tooltip="0 = no time limit")
        self.jobs = W.BoundedIntText(value=jobs, min=1, max=1024, description="jobs")
        self.executor = W.Dropdown(options=EXECUTORS, value=executor,
                                   description="executor")
        self.name = W.Text(value=name, description="variable")
        self.search_button = W.Button(description="Search", button_style="primary", icon="play")
        self.code_button = W.Button(description="Show code", icon="code")
        self.problem = W.HTML()
        self.code_area = W.Textarea(layout=W.Layout(width="98%", height="14em", display="none"))
        self.output = W.Output()
        self.search_button.on_click(lambda _b: self.start())
        self.code_button.on_click(lambda _b: self._show_code())
        for w in self._controls():
            w.observe(lambda _c: self.validate(), names="value")
        header = W.HTML(f"<b>tune</b> {type(estimator).__name__}: tick the parameters to search")
        settings = W.VBox([W.HBox([self.metrics, self.strategy, self.executor]),
                           W.HBox([self.trials, self.timeout, self.jobs, self.name])])
        self.box = W.VBox([header, W.VBox([row for row, _ in self._rows]), settings,
                           W.HBox([self.search_button, self.code_button]), self.problem,
                           self.code_area, self.output])
        self.validate()

    # ------------------------------------------------------------------ form rows

    def _row(self, r: Range):
        tick = W.Checkbox(value=r.tune, description=r.name, indent=False, layout=W.Layout(width="14em"))
        if r.kind == "choice":
            labels = [repr(o) for o in r.options]
            pick = W.SelectMultiple(options=list(zip(labels, range(len(labels)))),
                                    value=tuple(range(len(labels))), rows=min(4, len(labels)))
            widgets = {"tick": tick, "options": pick}
            row = W.HBox([tick, pick])
        else:
            box = W.IntText if r.kind == "int" else W.FloatText
            low = box(value=r.low, layout=W.Layout(width="9em"))
            high = box(value=r.high, layout=W.Layout(width="9em"))
            log = W.Checkbox(value=r.log, description="log", indent=False, layout=W.Layout(width="5em"))
            widgets = {"tick": tick, "low": low, "high": high, "log": log}
            row = W.HBox([tick, W.Label("from"), low, W.Label("to"), high, log])
        return row, widgets

    def _controls(self):
        for _row, widgets in self._rows:
            yield from widgets.values()
        yield from (self.metrics, self.trials, self.timeout, self.jobs, self.name, self.strategy,
                    self.executor)

    def chosen(self) -> list[Range]:
        """The ticked parameters with the form's current bounds."""
        out = []
        for r, (_row, w) in zip(self.ranges, self._rows):
            if not w["tick"].value:
                continue
            if r.kind == "choice":
                out.append(Range(r.name, "choice", options=tuple(r.options[i] for i in w["options"].value)))
            else:
                out.append(Range(r.name, r.kind, w["low"].value, w["high"].value, w["log"].value))
        return out

    # ------------------------------------------------------------------ checks and code

    def problems(self) -> list[str]:
        chosen = self.chosen()
        out = [] if chosen else ["nothing selected to tune: tick at least one parameter"]
        out += [p for r in chosen if (p := r.problem()) is not None]
        for check in (lambda: check_budget(self.trials.value or None, self.timeout.value or None,
                                           self.strategy.value),
                      lambda: check_name(self.name.value)):
            try:
                check()
            except ValueError as e:
                out.append(str(e))
        if not self.name.value.isidentifier():
            out.append(f"variable: {self.name.value!r} is not a valid Python name")
        if not self.metrics.value.strip():
            out.append("metrics: give at least one metric (or auto)")
        return out

    def validate(self) -> bool:
        problems = self.problems()
        self.search_button.disabled = bool(problems)
        self.search_button.tooltip = "; ".join(problems) or "start the search"
        self.problem.value = "".join(f"<div style='color:#d62728'>⚠ {p}</div>" for p in problems)
        return not problems

    def cell_body(self) -> str:
        """The model-building cell, with markers for the ticked parameters."""
        chosen = {r.name: r for r in self.chosen()}
        defaults = type(self.estimator)().get_params(deep=False)
        args, skipped = [], []
        params = dict(self.estimator.get_params(deep=False))
        params.update({n: None for n in chosen if n not in params})  # accepted, not yet set
        for n, v in QUIET.get(type(self.estimator).__name__, {}).items():
            params.setdefault(n, v)
        for name, value in params.items():
            if name in chosen:
                args.append(f"{name}={chosen[name].marker()}")
            elif name in defaults and _literal(defaults[name]) is not None and defaults[name] == value:
                continue
            elif (text := _literal(value)) is not None:
                args.append(f"{name}={text}")
            else:
                skipped.append(name)
        cls = type(self.estimator).__name__
        inner = "".join(f"\n    {a}," for a in args)
        body = f"{_import_line(self.estimator)}\n\nmodel = {cls}({inner}\n)\n"
        if skipped:
            body = f"# not written out (not literals): {', '.join(skipped)}\n" + body
        return body

    def options_line(self) -> str:
        parts = [f"--data {self.names[0]} {self.names[1]}"]
        if self.metrics.value.strip() != "auto":
            parts.append(f"--metrics {self.metrics.value.strip()}")
        if self.trials.value:
            parts.append(f"--trials {self.trials.value}")
        if self.timeout.value:
            parts.append(f"--timeout {self.timeout.value:g}")
        if self.strategy.value != "auto":
            parts.append(f"--strategy {self.strategy.value}")
        if self.jobs.value != 1:
            parts.append(f"--jobs {self.jobs.value}")
        if self.executor.value != "thread":
            parts.append(f"--executor {self.executor.value}")
        if self.name.value != "search":
            parts.append(f"--name {self.name.value}")
        return " ".join(parts)

    def code(self) -> str:
        """The equivalent ``%%aimsearch`` cell."""
        return f"%%aimsearch {self.options_line()}\n{self.cell_body()}"

    def apply(self) -> None:
        """Put :meth:`code` into the next input cell (call from a cell, like %aimapply)."""
        from IPython import get_ipython

        ip = get_ipython()
        if ip is None:
            raise RuntimeError("apply needs an IPython session")
        ip.set_next_input(self.code(), replace=False)

    def _show_code(self) -> None:
        self.code_area.value = self.code()
        self.code_area.layout.display = None

    # ------------------------------------------------------------------ run

    def start(self):
        """Start the search the form describes (same as running :meth:`code`)."""
        if not self.validate():
            raise ConfigError("; ".join(self.problems()))
        with self.output:
            self.output.clear_output()
            config = SearchConfig.build(
                self.cell_body(), data=self.data, metrics=self.metrics.value,
                trials=self.trials.value or None, timeout=self.timeout.value or None,
                strategy=self.strategy.value, jobs=self.jobs.value, executor=self.executor.value,
                name=self.name.value)
            self.search = launch(config, display=True)
        if self.namespace is not None:
            self.namespace[self.name.value] = self.search
        return self.search

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)

