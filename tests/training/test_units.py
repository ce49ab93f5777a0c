"""Estimator building, the fresh-window split, metric names and the champion/challenger decision."""

from __future__ import annotations

import pandas as pd
import pytest

from airflow_mlops.training.comparison import compare_versions
from airflow_mlops.training.estimator import EstimatorError, build_estimator
from airflow_mlops.training.hashing import spec_hash
from airflow_mlops.training.metrics import flatten
from airflow_mlops.training.preprocess import build_pipeline, categorical_columns
from airflow_mlops.training.serialize import skops_trusted_types
from airflow_mlops.training.split import fresh_window_split


def test_builds_estimator_with_checked_params_and_random_state():
    est = build_estimator("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 7}, "regression", 3)
    assert type(est).__name__ == "HistGradientBoostingRegressor"
    assert est.get_params()["max_iter"] == 7
    assert est.get_params()["random_state"] == 3


def test_unknown_param_names_the_param_and_suggests_the_right_one():
    with pytest.raises(EstimatorError, match=r"no parameter 'max_iters'; did you mean 'max_iter'\?"):
        build_estimator("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iters": 7}, "regression")


def test_param_of_wrong_value_is_rejected_before_fitting():
    with pytest.raises(EstimatorError, match=r"training.params: The 'C' parameter of LogisticRegression"):
        build_estimator("sklearn.linear_model.LogisticRegression", {"C": "strong"}, "classification")


@pytest.mark.parametrize(
    ("dotted", "task", "message"),
    [
        ("os.system", "regression", "not a scikit-learn class path"),
        ("sklearn.ensemble.NoSuchModel", "regression", "has no attribute 'NoSuchModel'"),
        ("sklearn.nosuchmodule.Thing", "regression", "cannot import module 'sklearn.nosuchmodule'"),
        ("sklearn.metrics.mean_absolute_error", "regression", "is not a scikit-learn estimator class"),
        ("sklearn.preprocessing.StandardScaler", "regression", "is not a regressor"),
        ("sklearn.linear_model.Ridge", "classification", "is not a classifier"),
        ("sklearn.linear_model.LogisticRegression", "regression", "is not a regressor"),
        ("sklearn.svm.LinearSVC", "classification", "has no predict_proba"),
    ],
)
def test_wrong_estimators_give_clear_errors(dotted, task, message):
    with pytest.raises(EstimatorError, match=message):
        build_estimator(dotted, {}, task)


def test_fresh_window_is_the_most_recent_rows_and_never_splits_a_timestamp():
    stamps = pd.date_range("2026-01-01", periods=10, freq="D", tz="UTC")
    frame = pd.DataFrame({"event_timestamp": stamps.repeat(3), "x": range(30)}).sample(frac=1, random_state=0)
    older, fresh, window = fresh_window_split(frame, "event_timestamp", 0.25)
    assert older["event_timestamp"].max() < fresh["event_timestamp"].min()
    assert set(fresh["event_timestamp"]) == set(stamps[-3:])  # cut at row 22 -> day 8 whole
    assert (window.rows, window.train_rows) == (9, 21)
    assert window.start == str(stamps[-3]) and window.end == str(stamps[-1])


def test_categorical_columns_are_declared_or_strings_and_tree_models_skip_scaling():
    frame = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"], "code": [1, 2]})
    assert categorical_columns(frame, ["a", "s", "code"], ["code"]) == ["s", "code"]
    tree = build_pipeline(build_estimator("sklearn.tree.DecisionTreeRegressor", {}, "regression"), ["a"], ["s"])
    linear = build_pipeline(build_estimator("sklearn.linear_model.Ridge", {}, "regression"), ["a"], ["s"])
    numeric_steps = lambda p: [n for n, _ in p.named_steps["preprocess"].transformers[0][1].steps]  # noqa: E731
    assert numeric_steps(tree) == ["impute"]
    assert numeric_steps(linear) == ["impute", "scale"]


def test_skops_trusted_types_are_only_sklearn_and_numpy():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "s": ["x", "y", "x", "y"]})
    pipe = build_pipeline(build_estimator("sklearn.tree.DecisionTreeRegressor", {}, "regression"), ["a"], ["s"])
    pipe.fit(frame, [1.0, 2.0, 3.0, 4.0])
    assert "sklearn.tree._tree.Tree" in skops_trusted_types(pipe)


def test_flat_metric_names_follow_the_architecture_doc():
    flat = flatten({"mae": 1.0}, {"zone_type": {"air port": {"mae": 2.0}}}, prefix="fresh/")
    assert flat == {"fresh/mae": 1.0, "fresh/slice/zone_type/air port/mae": 2.0}


@pytest.mark.parametrize(
    ("challenger", "champion", "expected"),
    [
        ({"mae": 1.0}, {"mae": 2.0}, ("challenger", "mae")),
        ({"mae": 2.0}, {"mae": 1.0}, ("champion", "mae")),
        ({"mae": 1.0}, {"mae": 1.0}, ("champion", "mae")),  # a tie keeps the champion
        ({"auc": 0.8}, {"auc": 0.7}, ("challenger", "auc")),
        ({"mae": 1.0}, None, ("no_champion", "")),
    ],
)
def test_decide_uses_the_primary_metric_direction(challenger, champion, expected):
    assert compare_versions(challenger, champion, ["auc" if "auc" in challenger else "mae"]) == expected


def test_spec_hash_ignores_formatting_but_not_content(project, tmp_path):
    from airflow_mlops.spec import load_spec

    text = (project / "dags" / "rider_churn.yaml").read_text()
    (tmp_path / "a.yaml").write_text("# a comment\n" + text)
    (tmp_path / "b.yaml").write_text(text.replace("C: 1.0", "C: 2.0"))
    original = spec_hash(load_spec(project / "dags" / "rider_churn.yaml"))
    assert spec_hash(load_spec(tmp_path / "a.yaml")) == original
    assert spec_hash(load_spec(tmp_path / "b.yaml")) != original


def test_spec_hash_ignores_what_does_not_change_the_model(project, tmp_path):
    from airflow_mlops.spec import load_spec

    text = (project / "dags" / "rider_churn.yaml").read_text()
    (tmp_path / "a.yaml").write_text(
        text.replace('score: "@daily"', 'score: "@hourly"').replace('auc"] >= 0.6', 'auc"] >= 0.7')
    )
    original = spec_hash(load_spec(project / "dags" / "rider_churn.yaml"))
    assert load_spec(tmp_path / "a.yaml").schedule.score == "@hourly"
    assert spec_hash(load_spec(tmp_path / "a.yaml")) == original
