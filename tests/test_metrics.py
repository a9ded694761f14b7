"""The metric registry: parsing, directions, task checks, formatting, and scikit-learn
scorers giving the same numbers as the metric functions."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from aimauto_nb.runtime.metrics import METRICS, format_value, parse_metrics


def test_parse_metrics_resolves_auto_per_task():
    assert [m.name for m in parse_metrics("auto,size", "classification")] == ["accuracy", "size"]
    assert [m.name for m in parse_metrics(["auto"], "regression")] == ["r2"]
    (score,) = parse_metrics("auto", "unknown")
    assert score.name == "score" and score.direction == "maximize" and not score.computed


def test_custom_metrics_carry_their_direction():
    loss, acc = parse_metrics("loss:min,acc:max")
    assert (loss.direction, acc.direction) == ("minimize", "maximize")
    assert loss.better(1.0, 2.0) and acc.better(2.0, 1.0)


@pytest.mark.parametrize("spec, message", [
    ("accuracy,speed", "unknown metric 'speed'"),
    ("loss:lowest", "must be written name:max or name:min"),
    ("accuracy,accuracy", "repeat a name"),
    ("", "non-empty"),
])
def test_bad_metric_lists_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_metrics(spec, "classification")


@pytest.mark.parametrize("spec, task", [("roc_auc", "regression"), ("accuracy,size", "regression"),
                                        ("rmse", "classification")])
def test_a_metric_of_the_other_task_is_refused(spec, task):
    with pytest.raises(ValueError, match=f"does not apply to a {task} target"):
        parse_metrics(spec, task)


def test_directions_and_kinds():
    assert {n for n, m in METRICS.items() if m.is_cost} == {"size", "latency", "fit_time", "gpu_memory"}
    assert all(m.computed for m in METRICS.values() if not m.is_cost)
    assert METRICS["log_loss"].direction == "minimize" and METRICS["f1"].direction == "maximize"
    assert METRICS["size"].log_scale and not METRICS["accuracy"].log_scale
    assert METRICS["latency"].label == "latency (ms/row)"


@pytest.mark.parametrize("name, value, text", [
    ("size", 2_500_000, "2.5 MB"), ("size", 512, "512 B"), ("latency", 0.0123, "12.3 µs/row"),
    ("latency", 4.5, "4.5 ms/row"), ("accuracy", 0.98765, "0.9877"),
])
def test_each_metric_formats_its_values(name, value, text):
    assert METRICS[name].format(value) == text == format_value(METRICS[name], value)


def test_scorers_match_the_metric_functions(iris, cancer):
    X, y = cancer
    clf = LogisticRegression(max_iter=3000).fit(X, y)
    assert METRICS["accuracy"].score(clf, X, y) == skm.accuracy_score(y, clf.predict(X))
    assert METRICS["f1"].score(clf, X, y) == skm.f1_score(y, clf.predict(X))
    assert METRICS["roc_auc"].score(clf, X, y) == pytest.approx(
        skm.roc_auc_score(y, clf.predict_proba(X)[:, 1]))
    assert METRICS["log_loss"].score(clf, X, y) == pytest.approx(skm.log_loss(y, clf.predict_proba(X)))
    Xi, yi = iris
    multi = LogisticRegression(max_iter=3000).fit(Xi, yi)
    assert METRICS["f1"].score(multi, Xi, yi) == skm.f1_score(yi, multi.predict(Xi), average="macro")
    assert METRICS["roc_auc"].score(multi, Xi, yi) == pytest.approx(
        skm.roc_auc_score(yi, multi.predict_proba(Xi), multi_class="ovr"))
    # log_loss keeps the model's classes when the scored rows lack one of them
    two = yi < 2
    assert METRICS["log_loss"].score(multi, Xi[two], yi[two]) == pytest.approx(
        skm.log_loss(yi[two], multi.predict_proba(Xi[two]), labels=[0, 1, 2]))


def test_roc_auc_uses_decision_function_without_predict_proba(cancer):
    X, y = cancer
    svm = LinearSVC(dual="auto", max_iter=200).fit(X / X.max(0), y)
    assert METRICS["roc_auc"].score(svm, X / X.max(0), y) == pytest.approx(
        skm.roc_auc_score(y, svm.decision_function(X / X.max(0))))


def test_regression_scorers_are_positive_errors(diabetes):
    X, y = diabetes
    reg = LinearRegression().fit(X, y)
    p = reg.predict(X)
    assert METRICS["rmse"].score(reg, X, y) == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert METRICS["mae"].score(reg, X, y) == pytest.approx(skm.mean_absolute_error(y, p))
    assert METRICS["r2"].score(reg, X, y) == pytest.approx(skm.r2_score(y, p))
