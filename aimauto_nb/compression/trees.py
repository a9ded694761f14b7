"""Shrinking fitted scikit-learn / LightGBM / XGBoost / CatBoost models: fewer boosting
iterations, fewer forest trees, sparser linear coefficients.

One small class per library says how to count, stage and cut that library's iterations;
:func:`kind_of` picks the class for a fitted model, so supporting another library is one
class here.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .quality import quality

__all__ = ["kind_of", "Kind", "Boosting", "Forest", "Linear", "KINDS"]


def _metric(y, pred, classification: bool) -> float:
    return quality(y, pred, classification)[1]


class Kind:
    """What ``compress`` does to one family of fitted models."""

    name = "model"
    auto = True  # prune="auto" is meaningful
    #: a note for the report when data chose what was kept
    data_note: str | None = None

    def matches(self, model) -> bool:
        raise NotImplementedError

    def is_classification(self, model, y) -> bool:
        from sklearn.base import is_classifier

        return is_classifier(model)

    def labels(self, pred, classification: bool):
        """Predictions as the metric takes them."""
        return pred

    def prune(self, model, amount, data, tolerance_points: float) -> str:
        raise NotImplementedError


class Boosting(Kind):
    """Keep the first iterations: (1 − amount) of them, or with ``amount="auto"`` the fewest
    whose metric on ``data`` is within ``tolerance_points`` of the full model's."""

    def iterations(self, model) -> int:
        raise NotImplementedError

    def staged(self, model, X, ks):
        """(k, predictions of the first k iterations) for each k in ks."""
        for k in ks:
            yield k, self.predict_first(model, X, k)

    def predict_first(self, model, X, k):
        raise NotImplementedError

    def keep(self, model, k: int) -> None:
        raise NotImplementedError

    def prune(self, model, amount, data, tolerance_points: float) -> str:
        total = self.iterations(model)
        if amount == "auto":
            X, y = data
            classification = self.is_classification(model, y)
            ks = sorted(set(np.unique(np.linspace(1, total, min(total, 64)).round().astype(int))
                            .tolist() + [total]))
            scores = {k: _metric(y, self.labels(p, classification), classification)
                      for k, p in self.staged(model, X, ks)}
            full = scores[total]
            k = next(k for k in ks if (full - scores[k]) * 100 <= tolerance_points)
            self.keep(model, k)
            return (f"kept the first {k} of {total} boosting iterations (the fewest within "
                    f"{tolerance_points:g} points of the full model on data)")
        k = max(1, math.ceil((1 - amount) * total))
        self.keep(model, k)
        return f"kept the first {k} of {total} boosting iterations"


def _lgb_cut(booster, k):
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=k))


class LightGBMSklearn(Boosting):
    name = "LightGBM (scikit-learn API)"

    def matches(self, model):
        return type(model).__module__.startswith("lightgbm") and hasattr(model, "booster_")

    def iterations(self, model):
        return model.booster_.current_iteration()

    def predict_first(self, model, X, k):
        return model.predict(X, num_iteration=k)

    def keep(self, model, k):
        new = _lgb_cut(model.booster_, k)
        model._Booster = new
        model._best_iteration = new.best_iteration
        model.set_params(n_estimators=k)


class LightGBMBooster(Boosting):
    name = "LightGBM Booster"

    def matches(self, model):
        return type(model).__module__.startswith("lightgbm") and type(model).__name__ == "Booster"

    def iterations(self, model):
        return model.current_iteration()

    def predict_first(self, model, X, k):
        return model.predict(X, num_iteration=k)

    def keep(self, model, k):  # swap the native handles: the user's Booster is the small one
        new = _lgb_cut(model, k)
        model.__dict__, new.__dict__ = new.__dict__, model.__dict__

    def is_classification(self, model, y):
        obj = str(model.params.get("objective", ""))
        return obj.startswith(("binary", "multiclass", "softmax"))

    def labels(self, pred, classification):
        if not classification:
            return pred
        pred = np.asarray(pred)
        return (pred > 0.5).astype(int) if pred.ndim == 1 else pred.argmax(axis=1)


class XGBoost(Boosting):
    name = "XGBoost"

    def matches(self, model):
        if not (type(model).__module__.startswith("xgboost") and hasattr(model, "get_booster")):
            return False
        try:  # the scikit-learn API: XGBClassifier, XGBRegressor, XGBRanker...
            model.get_booster()
        except Exception:  # xgboost raises NotFittedError before fit
            return False
        return True

    def iterations(self, model):
        return model.get_booster().num_boosted_rounds()

    def predict_first(self, model, X, k):
        return model.predict(X, iteration_range=(0, k))

    def keep(self, model, k):
        small = model.get_booster()[:k]  # a new Booster with the first k rounds
        for attr in ("best_iteration", "best_score"):  # early stopping's, now past the end
            if small.attr(attr) is not None:
                small.set_attr(**{attr: None})
        model._Booster = small
        model.set_params(n_estimators=k)


class CatBoost(Boosting):
    name = "CatBoost"

    def matches(self, model):
        return (type(model).__module__.startswith("catboost") and hasattr(model, "shrink")
                and model.is_fitted())

    def iterations(self, model):
        return model.tree_count_

    def predict_first(self, model, X, k):
        return model.predict(X, ntree_end=k)

    def keep(self, model, k):
        model.shrink(ntree_end=k)  # (a fitted CatBoost refuses set_params: `iterations` stays)


class _SklearnBoosting(Boosting):
    prefix = ""

    def matches(self, model):
        return (type(model).__module__.startswith("sklearn.ensemble")
                and type(model).__name__.startswith(self.prefix))

    def staged(self, model, X, ks):
        wanted = set(ks)
        for i, p in enumerate(model.staged_predict(X), start=1):
            if i in wanted:
                yield i, p


class GradientBoosting(_SklearnBoosting):
    name, prefix = "scikit-learn GradientBoosting", "GradientBoosting"

    def iterations(self, model):
        return len(model.estimators_)

    def keep(self, model, k):
        model.estimators_ = model.estimators_[:k]
        model.train_score_ = model.train_score_[:k]
        if getattr(model, "oob_improvement_", None) is not None:
            model.oob_improvement_ = model.oob_improvement_[:k]
        model.n_estimators_ = k
        model.set_params(n_estimators=k)


class HistGradientBoosting(_SklearnBoosting):
    name, prefix = "scikit-learn HistGradientBoosting", "HistGradientBoosting"

    def iterations(self, model):
        return model.n_iter_

    def keep(self, model, k):  # _predictors is one list of trees per iteration
        model._predictors = model._predictors[:k]
        model.train_score_ = model.train_score_[: k + 1]
        if len(getattr(model, "validation_score_", [])):
            model.validation_score_ = model.validation_score_[: k + 1]
        model.set_params(max_iter=k)


class Forest(Kind):
    """Drop trees. With data, trees are added greedily by how much they help the forest on
    it; without, the first ones are kept. ``"auto"`` keeps the fewest within tolerance."""

    name = "forest"
    data_note = "trees were chosen on the same data the metric is reported on; check on held-out data"

    def matches(self, model):
        return (type(model).__module__.startswith("sklearn.ensemble")
                and type(model).__name__.startswith(("RandomForest", "ExtraTrees")))

    def prune(self, model, amount, data, tolerance_points):
        return _prune_forest(model, amount, data, tolerance_points)


class Linear(Kind):
    """Zero the smallest coefficients (stored sparse when that is smaller)."""

    name, auto = "linear", False

    def matches(self, model):
        return (type(model).__module__.startswith(("sklearn.linear_model", "sklearn.svm"))
                and hasattr(model, "coef_"))

    def prune(self, model, amount, data, tolerance_points):
        return _prune_linear(model, amount)


KINDS = (LightGBMBooster(), LightGBMSklearn(), XGBoost(), CatBoost(), HistGradientBoosting(),
         GradientBoosting(), Forest(), Linear())


def kind_of(model) -> Kind | None:
    """The :class:`Kind` of a fitted model, or None."""
    return next((k for k in KINDS if k.matches(model)), None)


def _prune_forest(model, amount, data, tolerance_points: float):
    trees = list(model.estimators_)
    n = len(trees)
    from sklearn.base import is_classifier

    classification = is_classifier(model)
    if data is None:
        if amount == "auto":
            raise InputError('prune="auto" needs data=(X, y) to judge the smaller models on')
        order = list(range(n))
        how = "the first trees"
    else:
        X, y = data
        X = np.asarray(X, dtype=np.float32)
        if classification:
            classes = model.classes_
            preds = np.stack([t.predict_proba(X) for t in trees])  # (n, rows, classes)
            target = np.searchsorted(classes, np.asarray(y))
        else:
            preds = np.stack([t.predict(X) for t in trees])
            target = np.asarray(y, dtype=float)
        order, scores = _greedy(preds, target, classification)
        how = "trees chosen greedily by their contribution on data"
    if amount == "auto":
        full = scores[-1]
        m = next(i + 1 for i, s in enumerate(scores) if (full - s) * 100 <= tolerance_points)
    else:
        m = max(1, math.ceil((1 - amount) * n))
    keep = sorted(order[:m])
    model.estimators_ = [trees[i] for i in keep]
    model.set_params(n_estimators=m)
    return f"kept {m} of {n} trees ({how})"


def _greedy(preds, target, classification):
    """Forward selection: each step adds the tree that most improves the ensemble."""
    n = preds.shape[0]
    chosen, scores = [], []
    total = np.zeros_like(preds[0])
    left = list(range(n))
    for step in range(1, n + 1):
        cand = (total[None] + preds[left]) / step
        if classification:
            s = (cand.argmax(axis=-1) == target[None]).mean(axis=1)
        else:
            resid = ((cand - target[None]) ** 2).sum(axis=1)
            s = 1 - resid / ((target - target.mean()) ** 2).sum()
        j = int(np.argmax(s))
        t = left.pop(j)
        chosen.append(t)
        scores.append(float(s[j]))
        total += preds[t]
    return chosen, scores


def _prune_linear(model, amount):
    import pickle

    coef = np.asarray(model.coef_, dtype=float)
    k = int(amount * coef.size)
    if k:
        thresh = np.partition(np.abs(coef).ravel(), k - 1)[k - 1]
        mask = np.abs(coef) <= thresh
        extra = mask.sum() - k  # ties at the threshold: keep the surplus
        if extra > 0:
            tied = np.flatnonzero((np.abs(coef) == thresh).ravel())[:extra]
            mask.ravel()[tied] = False
        model.coef_ = np.where(mask, 0.0, model.coef_).astype(np.asarray(model.coef_).dtype)
    step = f"zeroed the {k} smallest of {coef.size} coefficients"
    if hasattr(model, "sparsify"):
        dense = len(pickle.dumps(model))
        model.sparsify()
        if len(pickle.dumps(model)) < dense:
            return step + " (stored sparse)"
        model.densify()
    return step
