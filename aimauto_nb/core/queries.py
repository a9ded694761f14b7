"""The read side of a :class:`~aimauto_nb.core.facade.Search`: every question about its
trials (best, Pareto front, models, code, tables, the dashboard) answered from one
:meth:`snapshot`, the stored study, or the kept models. A mixin, so the façade module holds
only the search's control and state."""

from __future__ import annotations

from typing import Any

from ..storage.default import location
from .results import TrialRecord

__all__ = ["SearchQueries"]


class SearchQueries:
    """Read-only views of a search; the class using it provides ``snapshot()``, ``study``,
    ``config``, ``_results``, ``_kept`` and ``_storage``."""

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial of the study so far (resumed ones too), by number."""
        return list(self.snapshot().trials)

    def counts(self) -> dict[str, int]:
        return self.snapshot().counts

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial by the first metric."""
        return self.snapshot().best

    @property
    def best_params(self) -> dict[str, Any] | None:
        b = self.best
        return None if b is None else dict(b.params)

    @property
    def pareto(self) -> list[TrialRecord]:
        """Complete trials that no other complete trial beats on every metric."""
        return list(self.snapshot().front)

    @property
    def best_model(self):
        b = self.best
        if b is None:
            raise LookupError("no trial has completed yet")
        return self.model(b.number)

    def model(self, number: int):
        """The fitted model of trial ``number`` (kept for the best and Pareto trials).

        If a kept model's file is gone (the models folder was deleted), the trial's model
        is refit from its parameters, with a warning naming the file."""
        m = self._kept.get(number)
        if m is not None:
            return m
        rec = self._results.get(number)
        if rec is None or rec.state != "complete" or number not in self._results.keep_numbers():
            raise KeyError(f"trial {number}'s model was not kept: only the best and "
                           "Pareto-optimal trials keep their fitted models")
        return self._kept.refit_missing(rec, self.config)

    def code(self, number: int | None = None) -> str:
        """The cell with the chosen values of trial ``number`` (best by default) filled in."""
        rec = self.best if number is None else self._results.get(number)
        if rec is None:
            raise LookupError("no trial has completed yet" if number is None else f"no trial {number}")
        return self.config.program.code(rec.params, rec.choice_index)

    def status_line(self) -> str:
        return self.snapshot().status_line()

    # ------------------------------------------------------------------ storage and tools

    @property
    def study_name(self) -> str:
        """The study's name in its storage (``name`` plus the start time in the default
        journal, where every run is kept)."""
        return self.study.study_name

    @property
    def storage_location(self) -> str:
        """Where the study is stored: a file, a URL, or ``memory``."""
        return location(self.config.storage, self.study_name)

    def dashboard(self, stop: bool = False, port: int = 0, writable: bool = False):
        """Open optuna-dashboard on this search's storage (127.0.0.1, a free port unless
        ``port``), served from the kernel until ``dashboard(stop=True)`` or the kernel
        exits. Needs the ``aimauto_nb[dashboard]`` extra.

        Its URL carries a random token (requests without it are refused, as are requests
        whose ``Host`` is not a loopback name), and it is read-only: ``writable=True``
        allows optuna-dashboard's writes (notes, deleting studies, telling trials, which
        can overwrite a running trial's result).

        Returns
        -------
        Dashboard or None
            Its ``url`` / ``study_url``; in a notebook it shows as a link and an IFrame.
            ``None`` after ``stop=True``.
        """
        from ..storage.dashboard import for_study
        from ..storage.default import DefaultStorage

        storage = self._storage
        if isinstance(self.config.storage, DefaultStorage) and not stop:
            storage = self.config.storage.open()  # the folder's studies, later runs included
        return for_study(storage, self.config.storage, self.study_name, stop=stop, port=port,
                         writable=writable)

    def trials_dataframe(self, attrs: tuple[str, ...] | None = None, multi_index: bool = False):
        """The trials as a pandas DataFrame in Optuna's layout, the value columns named
        after the metrics (``values_accuracy``; ``value_accuracy`` for one metric) and a
        trial's error as ``user_attrs_error``."""
        from .tables import trials_dataframe

        return trials_dataframe(self.study, attrs, multi_index)

    def summary(self, num_trials: int = 10) -> None:
        """Print the best ``num_trials`` complete trials, best first, with their parameters
        and metric values (as Keras Tuner's ``results_summary``)."""
        from .tables import summary

        print(summary(self.snapshot(), num_trials, self.storage_location, self.study_name))
