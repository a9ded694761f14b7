"""IPython magics: ``%%aimsearch``, ``%aimstatus``, ``%aimstop``, ``%aimapply``,
``%aimcompress``, ``%aimtune``, ``%aimdashboard``. A thin layer over
:class:`~aimauto_nb.core.config.SearchConfig` with :func:`.launch.launch`, and
:func:`aimauto_nb.compress`: options are parsed with ``magic_arguments``, names are
looked up in the user namespace, and every problem is one ``UsageError`` line."""

from __future__ import annotations

import contextlib
import time

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..core.config import SearchConfig
from ..core.facade import Search
from ..core.pruning import PRUNERS
from ..core.strategies import STRATEGIES
from ..errors import AimautoError, SearchError
from ..runners import EXECUTORS
from .launch import launch
from .views import headless

__all__ = ["AimMagics", "register", "unregister"]


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _devices(text: str | None):
    """``--devices``: a count, ``cuda`` or a comma-separated list."""
    if text is None or not text.isdigit():
        return text
    return int(text)


def _settle(search: Search, seconds: float) -> None:
    """Wait for a stopped search's last trials (the panel then draws its final state),
    through further interrupts."""
    deadline = time.monotonic() + seconds
    while search.running and time.monotonic() < deadline:
        with contextlib.suppress(SearchError, KeyboardInterrupt):
            search.wait(timeout=max(0.0, deadline - time.monotonic()))


@magics_class
class AimMagics(Magics):
    """The aimauto_nb magics, registered by ``%load_ext aimauto_nb``."""

    # ------------------------------------------------------------------ helpers

    def _lookup(self, names: list[str], option: str):
        ns = self.shell.user_ns
        missing = [n for n in names if n not in ns]
        if missing:
            raise UsageError(f"{option}: no variable named {', '.join(missing)} in the notebook")
        return tuple(ns[n] for n in names)

    def _search(self, name: str | None) -> Search:
        name = name or "search"
        obj = self.shell.user_ns.get(name)
        if isinstance(obj, Search):
            return obj
        found = [k for k, v in self.shell.user_ns.items()
                 if isinstance(v, Search) and not k.startswith("_")]
        hint = f"; searches here: {', '.join(sorted(found))}" if found else "; none has run yet"
        raise UsageError(f"no search named {name!r}{hint}")

    def _parse(self, fn, line: str):
        """The parsed options; ``--help`` / ``-h`` prints the options (``None``)."""
        if {"--help", "-h"} & set(line.split()):
            print(fn.parser.format_help())
            return None
        try:
            return parse_argstring(fn, line)
        except UsageError:
            raise
        except SystemExit:  # argparse on --help
            raise UsageError("see the usage above") from None

    # ------------------------------------------------------------------ %%aimsearch

    @magic_arguments()
    @argument("--data", nargs=2, metavar=("X", "y"), help="training data: two variable names")
    @argument("--valid", nargs="+", metavar="V",
              help="validation: a fraction (0.2) or two variable names (X_val y_val)")
    @argument("--cv", type=int, metavar="K", help="K-fold cross-validation instead of a holdout")
    @argument("--metrics", default="auto",
              help="comma-separated objectives, first is primary: accuracy,size,latency; "
                   "name:max / name:min for keys of a dict `score` (default: auto)")
    @argument("--trials", type=int, metavar="N", help="number of trials")
    @argument("--timeout", type=float, metavar="S", help="wall-clock budget in seconds")
    @argument("--strategy", default="auto", help=f"sampler: {', '.join(STRATEGIES)}")
    @argument("--pruner", default=None, help=f"early stopping: {', '.join(PRUNERS)}")
    @argument("--jobs", type=int, metavar="N",
              help="trials at once (default 1; process: cores - 1; dask: the cluster's threads)")
    @argument("--executor", default="thread",
              help=f"{', '.join(EXECUTORS)} or a Dask scheduler address tcp://HOST:PORT")
    @argument("--threads", type=int, metavar="N",
              help="threads per running trial (default: cores // jobs; 0: no limit)")
    @argument("--devices", metavar="D",
              help="GPUs, one trial each: cuda, cuda:0,cuda:1 or a count (the cell reads `device`)")
    @argument("--trials-per-device", type=int, default=1, metavar="N",
              help="trials sharing one device (default 1)")
    @argument("--trial-timeout", type=float, metavar="S", help="fail a trial after S seconds")
    @argument("--storage", help="study storage: sqlite:///file.db or another URL, "
                                  "journal:///file.log, :memory: (default: .aimauto/journal.log)")
    @argument("--resume", action="store_true",
              help="continue the study of this --name (in the default journal: its latest run)")
    @argument("--seed", type=int, help="sampler and split seed")
    @argument("--name", default="search", help="variable to bind the Search to (default: search)")
    @argument("--stop-when-converged", nargs="?", const=True, default=False, type=int, metavar="N",
              help="end once no better trial came in the last N trials (default N: 20, or 8 "
                   "per parameter)")
    @argument("--warm-start", metavar="SEARCH",
              help="try the best trials of this earlier search (a variable) first")
    @argument("--no-warm-start", action="store_true",
              help="do not try the shipped portfolio's configurations first")
    @argument("--wait", action="store_true", help="block until the search ends")
    @argument("--quiet", action="store_true", help="no live panel")
    @cell_magic
    def aimsearch(self, line: str, cell: str):
        """Search the hp markers of this cell; returns at once unless --wait."""
        args = self._parse(self.aimsearch, line)
        if args is None:
            return
        if not args.name.isidentifier():
            raise UsageError(f"--name: {args.name!r} is not a valid variable name")
        data = self._lookup(args.data, "--data") if args.data else None
        valid = None
        if args.valid:
            if len(args.valid) == 1:
                try:
                    valid = float(args.valid[0])
                except ValueError:
                    raise UsageError(f"--valid: {args.valid[0]!r} is neither a fraction nor "
                                     "two variable names (X_val y_val)") from None
            elif len(args.valid) == 2:
                valid = self._lookup(args.valid, "--valid")
            else:
                raise UsageError("--valid takes a fraction or two variable names")
        warm = not args.no_warm_start
        if args.warm_start:
            (warm,) = self._lookup([args.warm_start], "--warm-start")
        old = self.shell.user_ns.get(args.name)
        if isinstance(old, Search) and old.running:
            raise UsageError(f"search {args.name!r} is still running: %aimstop {args.name} "
                             "first, or pick another --name")
        try:
            config = SearchConfig.build(
                       cell, data=data, valid=valid, cv=args.cv, metrics=args.metrics,
                       trials=args.trials, timeout=args.timeout, strategy=args.strategy,
                       jobs=args.jobs, executor=args.executor, storage=args.storage, name=args.name,
                       resume=args.resume, seed=args.seed, pruner=args.pruner,
                       trial_timeout=args.trial_timeout, namespace=self.shell.user_ns,
                       stop_when_converged=args.stop_when_converged, warm_start=warm,
                       threads=False if args.threads == 0 else args.threads,
                       devices=_devices(args.devices),
                       trials_per_device=args.trials_per_device)
            s = launch(config, display=not args.quiet)
        except SyntaxError as e:  # the cell itself: one line naming the cell line
            raise UsageError(f"cell line {e.lineno}: {e.msg}" if e.lineno else str(e)) from None
        except (AimautoError, ValueError, TypeError, ImportError, OSError) as e:
            raise UsageError(str(e)) from None
        self.shell.user_ns[args.name] = s
        if args.wait or headless():
            # a notebook runner saves only what the running cell shows: without a wait the
            # saved notebook would hold a search that never seemed to start
            try:
                s.wait()
            except SearchError as e:
                raise UsageError(f"search {args.name!r} failed: {e}") from None
            except KeyboardInterrupt:  # wait() has stopped the search: one line, no traceback
                _settle(s, 10)
                print(f"interrupted: {s.status_line()}")
                return
            if args.quiet:
                print(s.status_line())

    # ------------------------------------------------------------------ line magics

    @magic_arguments()
    @argument("name", nargs="?", default="search", help="the search variable (default: search)")
    @argument("--all", action="store_true",
              help="list the searches stored in the default journal (.aimauto/) instead")
    @argument("--storage", help="with --all: list this storage URL instead")
    @line_magic
    def aimstatus(self, line: str):
        """One line: state, trial counts, elapsed time, best values; ``--all``: the stored
        searches (name, study, started, trials, best)."""
        from ..storage.listing import studies

        args = self._parse(self.aimstatus, line)
        if args is None:
            return
        if args.all or args.storage:
            try:
                print(studies(args.storage))
            except ValueError as e:
                raise UsageError(str(e)) from None
            return
        print(self._search(args.name).status_line())

    @magic_arguments()
    @argument("name", nargs="?", default=None,
              help="the search variable (default: search, else the default journal)")
    @argument("--storage", help="a storage URL to open instead of a search's")
    @argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    @argument("--stop", action="store_true", help="stop the dashboard")
    @argument("--writable", action="store_true",
              help="allow optuna-dashboard's writes (default: read-only)")
    @line_magic
    def aimdashboard(self, line: str):
        """Start optuna-dashboard on a search's storage and show it (a link and an IFrame)."""
        from ..storage.dashboard import for_storage as dashboard

        args = self._parse(self.aimdashboard, line)
        if args is None:
            return
        try:
            kw = {"stop": args.stop, "port": args.port, "writable": args.writable}
            if args.storage is not None:
                return dashboard(args.storage, **kw)
            if args.name is None and not isinstance(self.shell.user_ns.get("search"), Search):
                return dashboard(None, **kw)
            return self._search(args.name).dashboard(**kw)
        except (ImportError, ValueError, OSError) as e:
            raise UsageError(str(e)) from None

    @magic_arguments()
    @argument("name", nargs="?", default="search", help="the search variable (default: search)")
    @line_magic
    def aimstop(self, line: str):
        """Stop a running search: no new trials start; it keeps what it has."""
        args = self._parse(self.aimstop, line)
        if args is None:
            return
        s = self._search(args.name)
        if not s.running:
            print(f"{s.name} is already {s.state}")
            return
        s.stop()
        print(f"stopping {s.name}: no new trials will start")

    @magic_arguments()
    @argument("name", nargs="?", default="search", help="the search variable (default: search)")
    @argument("--trial", type=int, metavar="N", help="trial number (default: the best)")
    @line_magic
    def aimapply(self, line: str):
        """Put the cell with the chosen trial's values filled in into the next input cell."""
        args = self._parse(self.aimapply, line)
        if args is None:
            return
        s = self._search(args.name)
        try:
            code = s.code(args.trial)
        except LookupError as e:
            raise UsageError(str(e).strip("'\"")) from None
        if headless():  # nothing would insert the cell: show it
            print(code.strip("\n"))
            return
        self.shell.set_next_input(code.strip("\n") + "\n", replace=False)

    @magic_arguments()
    @argument("model", help="the model variable (compressed in place)")
    @argument("--prune", help="fraction to remove (0.5), or auto for tree ensembles")
    @argument("--structured", action="store_true", help="remove whole neurons / channels")
    @argument("--quantize", help="int8 or int8-weight-only")
    @argument("--device", help="cpu or cuda")
    @argument("--data", nargs=2, metavar=("X", "y"), help="data to report the metric on")
    @argument("--tolerance", type=float, help="points of metric prune=auto may give up")
    @argument("--finetune", nargs=2, metavar=("X", "y"),
              help="train the pruned torch model on these before quantizing")
    @argument("--epochs", type=int, default=3, help="fine-tuning epochs (default 3)")
    @argument("--no-distill", action="store_true", help="fine-tune on the labels alone")
    @argument("--example-inputs", metavar="X",
              help="a tensor (or tuple of tensors) variable to trace and time the model with")
    @argument("--int8-backend", help="torch.ao, torchao or onnxruntime (default: the fastest, measured)")
    @line_magic
    def aimcompress(self, line: str):
        """Compress a model in place and show the before/after report."""
        from ..compression import CompressError, compress

        args = self._parse(self.aimcompress, line)
        if args is None:
            return
        (model,) = self._lookup([args.model], "model")
        data = self._lookup(args.data, "--data") if args.data else None
        finetune = self._lookup(args.finetune, "--finetune") if args.finetune else None
        example = (self._lookup([args.example_inputs], "--example-inputs")[0]
                   if args.example_inputs else None)
        prune = args.prune
        if prune is not None and prune != "auto":
            try:
                prune = _number(prune)
            except ValueError:
                raise UsageError(f"--prune: {prune!r} is not a number or auto") from None
        try:
            return compress(model, prune=prune, structured=args.structured,
                            quantize=args.quantize, device=args.device, data=data,
                            tolerance=args.tolerance, finetune=finetune, example_inputs=example,
                            int8_backend=args.int8_backend,
                            **({"epochs": args.epochs, "distill": not args.no_distill}
                               if finetune is not None else {}))
        except (ValueError, TypeError, CompressError) as e:
            raise UsageError(str(e)) from None


    @magic_arguments()
    @argument("estimator", help="an estimator variable (or class) to tune")
    @argument("--data", nargs=2, metavar=("X", "y"), required=True, help="training data")
    @argument("--metrics", default="auto", help="comma-separated objectives (default: auto)")
    @argument("--trials", type=int, default=40, metavar="N", help="number of trials (default 40)")
    @argument("--name", default="search", help="variable for the Search the form starts")
    @line_magic
    def aimtune(self, line: str):
        """A form over the estimator's parameters that starts a search or writes its cell."""
        from .form import Tuner

        args = self._parse(self.aimtune, line)
        if args is None:
            return
        (estimator,) = self._lookup([args.estimator], "estimator")
        data = self._lookup(args.data, "--data")
        try:
            return Tuner(estimator, data, names=tuple(args.data), metrics=args.metrics,
                         trials=args.trials, name=args.name, namespace=self.shell.user_ns)
        except (TypeError, ValueError) as e:
            raise UsageError(str(e)) from None


def register(ipython) -> None:
    ipython.register_magics(AimMagics)


def unregister(ipython) -> None:
    mm = ipython.magics_manager
    for kind, names in (("cell", ["aimsearch"]),
                        ("line", ["aimstatus", "aimstop", "aimapply", "aimcompress", "aimtune",
                                  "aimdashboard"])):
        for n in names:
            mm.magics[kind].pop(n, None)
    mm.registry.pop("AimMagics", None)

