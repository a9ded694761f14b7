"""Shrinking fitted scikit-learn / LightGBM / XGBoost / CatBoost models: fewer boosting
iterations, fewer forest trees, sparser linear coefficients."""

from __future__ import annotations

import math

import numpy as np

from .quality import quality

__all__ = ["kind_of", "prune_boosting", "prune_forest", "prune_linear", "BOOSTING"]

#: kinds whose iterations :func:`prune_boosting` can cut
BOOSTING = ("lgbm-sklearn", "lgbm-booster", "xgb", "catboost", "gb", "hgb")


def _xgb_fitted(model) -> bool:
    try:
        model.get_booster()
    except Exception:  # xgboost raises NotFittedError before fit
        return False
    return True


def kind_of(model) -> str | None:
    """"lgbm-sklearn" | "lgbm-booster" | "xgb" | "catboost" | "gb" | "hgb" | "forest" |
    "linear" | None (fitted models only)."""
    mod = type(model).__module__
    name = type(model).__name__
    if mod.startswith("lightgbm"):
        if name == "Booster":
            return "lgbm-booster"
        if hasattr(model, "booster_"):
            return "lgbm-sklearn"
    if mod.startswith("xgboost") and hasattr(model, "get_booster") and _xgb_fitted(model):
        return "xgb"  # the scikit-learn API: XGBClassifier, XGBRegressor, XGBRanker...
    if mod.startswith("catboost") and hasattr(model, "shrink") and model.is_fitted():
        return "catboost"
    if mod.startswith("sklearn.ensemble"):
        if name.startswith("HistGradientBoosting"):
            return "hgb"
        if name.startswith("GradientBoosting"):
            return "gb"
        if name.startswith(("RandomForest", "ExtraTrees")):
            return "forest"
    if mod.startswith(("sklearn.linear_model", "sklearn.svm")) and hasattr(model, "coef_"):
        return "linear"
    return None


def _metric(y, pred, classification: bool) -> float:
    return quality(y, pred, classification)[1]


def n_iterations(model, kind) -> int:
    if kind == "lgbm-sklearn":
        return model.booster_.current_iteration()
    if kind == "lgbm-booster":
        return model.current_iteration()
    if kind == "xgb":
        return model.get_booster().num_boosted_rounds()
    if kind == "catboost":
        return model.tree_count_
    if kind == "gb":
        return len(model.estimators_)
    return model.n_iter_


def _staged_predictions(model, kind, X, ks):
    """Predictions (labels or values) of the first k iterations, for each k in ks."""
    if kind in ("lgbm-sklearn", "lgbm-booster"):
        for k in ks:
            yield k, model.predict(X, num_iteration=k)
        return
    if kind == "xgb":
        for k in ks:
            yield k, model.predict(X, iteration_range=(0, k))
        return
    if kind == "catboost":
        for k in ks:
            yield k, model.predict(X, ntree_end=k)
        return
    wanted = set(ks)
    for i, p in enumerate(model.staged_predict(X), start=1):
        if i in wanted:
            yield i, p


def _keep_iterations(model, kind, k: int) -> None:
    if kind in ("lgbm-sklearn", "lgbm-booster"):
        import lightgbm as lgb

        booster = model.booster_ if kind == "lgbm-sklearn" else model
        new = lgb.Booster(model_str=booster.model_to_string(num_iteration=k))
        if kind == "lgbm-sklearn":
            model._Booster = new
            model._best_iteration = new.best_iteration
            model.set_params(n_estimators=k)
        else:  # swap the native handles so the user's Booster object is the small one
            model.__dict__, new.__dict__ = new.__dict__, model.__dict__
    elif kind == "xgb":
        small = model.get_booster()[:k]  # a new Booster with the first k rounds
        for attr in ("best_iteration", "best_score"):  # early stopping's, now past the end
            if small.attr(attr) is not None:
                small.set_attr(**{attr: None})
        model._Booster = small
        model.set_params(n_estimators=k)
    elif kind == "catboost":
        model.shrink(ntree_end=k)  # (a fitted CatBoost refuses set_params: `iterations` stays)
    elif kind == "gb":
        model.estimators_ = model.estimators_[:k]
        model.train_score_ = model.train_score_[:k]
        if getattr(model, "oob_improvement_", None) is not None:
            model.oob_improvement_ = model.oob_improvement_[:k]
        model.n_estimators_ = k
        model.set_params(n_estimators=k)
    else:  # hgb: _predictors is one list of trees per iteration
        model._predictors = model._predictors[:k]
        model.train_score_ = model.train_score_[: k + 1]
        if len(getattr(model, "validation_score_", [])):
            model.validation_score_ = model.validation_score_[: k + 1]
        model.set_params(max_iter=k)


def prune_boosting(model, kind, amount, data, tolerance_points: float):
    """Keep the first iterations: (1 − amount) of them, or with ``amount="auto"`` the
    fewest whose metric on ``data`` is within ``tolerance_points`` of the full model's."""
    total = n_iterations(model, kind)
    if amount == "auto":
        X, y = data
        classification = _is_classification(model, kind, y)
        ks = sorted(set(np.unique(np.linspace(1, total, min(total, 64)).round().astype(int)).tolist()
                        + [total]))
        scores = {k: _metric(y, _labels(model, kind, p, classification), classification)
                  for k, p in _staged_predictions(model, kind, X, ks)}
        full = scores[total]
        k = next(k for k in ks if (full - scores[k]) * 100 <= tolerance_points)
        _keep_iterations(model, kind, k)
        return (f"kept the first {k} of {total} boosting iterations (the fewest within "
                f"{tolerance_points:g} points of the full model on data)")
    k = max(1, math.ceil((1 - amount) * total))
    _keep_iterations(model, kind, k)
    return f"kept the first {k} of {total} boosting iterations"


def _is_classification(model, kind, y) -> bool:
    if kind == "lgbm-booster":
        obj = str(model.params.get("objective", ""))
        return obj.startswith(("binary", "multiclass", "softmax"))
    from sklearn.base import is_classifier

    return is_classifier(model)


def _labels(model, kind, pred, classification):
    if kind == "lgbm-booster" and classification:
        pred = np.asarray(pred)
        return (pred > 0.5).astype(int) if pred.ndim == 1 else pred.argmax(axis=1)
    return pred


def prune_forest(model, amount, data, tolerance_points: float):
    """Drop trees. With data, trees are added greedily by how much they help the forest on
    it; without, the first ones are kept. ``"auto"`` keeps the fewest within tolerance."""
    trees = list(model.estimators_)
    n = len(trees)
    from sklearn.base import is_classifier

    classification = is_classifier(model)
    if data is None:
        if amount == "auto":
            raise ValueError('prune="auto" needs data=(X, y) to judge the smaller models on')
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


def prune_linear(model, amount):
    """Zero the ``amount`` smallest-magnitude coefficients (sparse storage if smaller)."""
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
