"""Train both example models through MLflowTrainOperator against a real SQLite MLflow store."""

from __future__ import annotations

import pandas as pd
import pytest

from airflow_mlops.datasets import file_digest
from airflow_mlops.training.hashing import code_version, spec_hash

from .conftest import make_context, spec_path, write_training_set

pytestmark = pytest.mark.slow  # trains and logs real models to MLflow (~10 s per module idle)

SIZES = {"ride_demand": {"zones": 6, "days": 10}, "rider_churn": {"riders": 400, "snapshots": 4}}
SLICES = {"ride_demand": ("zone_type", {"airport", "downtown", "suburb"}), "rider_churn": ("payment_type", None)}


@pytest.fixture(scope="module")
def trained(mlops_home):
    """Each example model trained once (two runs of ride_demand: versions 1 and 2)."""
    from airflow_mlops.operators.train import MLflowTrainOperator

    out = {}
    for model, sizes in SIZES.items():
        path = write_training_set(model, mlops_home / "datasets" / f"{model}.parquet", **sizes)
        results = {"validate": {"dataset": str(path), "digest": file_digest(path)}}
        runs = 2 if model == "ride_demand" else 1
        for n in range(runs):
            context = make_context(model, "train", results, run_id=f"manual__{n}", reason="drift")
            operator = MLflowTrainOperator(task_id="train", spec_path=spec_path(model), **results["validate"])
            out[(model, n)] = (operator.execute(context), context, path, operator.spec)
    return out


@pytest.mark.parametrize("model", list(SIZES))
def test_run_has_params_metrics_slices_tags_and_dataset(trained, model):
    from mlflow.tracking import MlflowClient

    from airflow_mlops.hooks.mlflow import MLflowHook

    result, context, path, spec = trained[(model, 0)]
    client: MlflowClient = MLflowHook().get_conn()
    run = client.get_run(result["run_id"])

    for key, value in spec.training.params.items():
        assert run.data.params[f"estimator.{key}"] == str(value)
    assert run.data.params["estimator"] == spec.training.estimator
    assert int(run.data.params["rows.train"]) + int(run.data.params["rows.holdout"]) == len(pd.read_parquet(path))

    assert set(result["metrics"]) == set(spec.training.metrics)
    for metric, value in result["metrics"].items():
        assert run.data.metrics[metric] == pytest.approx(value)
    column, expected_values = SLICES[model]
    per_value = result["slice_metrics"][column]
    if expected_values:
        assert set(per_value) == expected_values
    for value, metrics in per_value.items():
        for metric, x in metrics.items():
            assert run.data.metrics[f"slice/{column}/{value}/{metric}"] == pytest.approx(x)

    tags = run.data.tags
    assert tags["mlops.spec_hash"] == spec_hash(spec)
    assert tags["mlops.code_version"] == code_version()
    assert tags["mlops.dag_id"] == f"{model}__train"
    assert tags["mlops.dag_run_id"] == "manual__0"
    assert tags["mlops.trigger_reason"] == "drift"
    assert tags["mlops.dataset_path"] == str(path)
    assert tags["mlops.dataset_digest"] == file_digest(path)

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == tags["mlops.mlflow_dataset_digest"]
    assert str(path) in dataset_input.dataset.source
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"

    assert context["ti"].pushed["mlops_mlflow_run_url"].endswith(f"/runs/{result['run_id']}")


@pytest.mark.parametrize("model", list(SIZES))
def test_registered_version_has_signature_challenger_alias_and_predicts(trained, model):
    from mlflow.models import get_model_info

    from airflow_mlops.hooks.mlflow import MLflowHook

    result, _, path, spec = trained[(model, 0)]
    hook = MLflowHook()
    version = hook.get_conn().get_model_version(model, result["model_version"])
    assert version.run_id == result["run_id"]
    sealed = version.tags["mlops.model_sha256"]  # the digests every load verifies
    assert sealed == result["model_sha256"] and len(sealed) == 64
    assert hook.get_conn().get_run(result["run_id"]).data.tags["mlops.model_sha256"] == sealed
    assert result["model_uri"] == f"models:/{model}/{result['model_version']}"

    info = get_model_info(result["model_uri"])
    assert info.signature.inputs.input_names() == spec.features.feature_names
    assert info.saved_input_example_info is not None

    frame = pd.read_parquet(path).tail(20)
    predictions = hook.load_model(model, result["model_version"]).predict(frame[spec.features.feature_names])
    assert len(predictions) == 20
    if model == "rider_churn":
        assert set(pd.Series(predictions).unique()) <= {0, 1}
    aliases = hook.get_conn().get_registered_model(model).aliases
    assert "champion" not in aliases  # only the promotion gate makes a champion


def test_each_run_registers_a_new_version_and_moves_the_challenger_alias(trained):
    from airflow_mlops.hooks.mlflow import MLflowHook

    first, second = trained[("ride_demand", 0)][0], trained[("ride_demand", 1)][0]
    assert (first["model_version"], second["model_version"]) == ("1", "2")
    assert str(MLflowHook().version_by_alias("ride_demand", "challenger").version) == "2"
    # same data, same spec, same seed: the same metrics
    assert first["metrics"] == pytest.approx(second["metrics"])


def test_evaluate_without_champion_reports_no_champion(trained):
    from airflow_mlops import settings
    from airflow_mlops.operators.evaluate import EvaluateOperator

    result, _, path, _ = trained[("rider_churn", 0)]
    context = make_context("rider_churn", "evaluate", {"train": result, "validate": {"dataset": str(path)}})
    inputs = {"dataset": result["dataset"], "model_version": result["model_version"], "run_id": result["run_id"]}
    out = EvaluateOperator(task_id="evaluate", spec_path=spec_path("rider_churn"), **inputs).execute(context)
    assert out["better"] == "no_champion" and out["champion"] is None
    # the fresh window is the training holdout, so the metrics agree with the train task's
    assert out["challenger"]["metrics"] == pytest.approx(result["metrics"])
    assert out["window"] == result["window"]
    assert out["report_html"].startswith(str(settings.model_reports_dir("rider_churn") / "evaluation"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "max_iter: 500",
            "max_iters: 500",
            r"LogisticRegression has no parameter 'max_iters'; did you mean 'max_iter'\?",
        ),
        ("sklearn.linear_model.LogisticRegression", "sklearn.linear_model.Ridge", "is not a classifier"),
    ],
)
def test_bad_estimator_spec_fails_before_anything_is_logged(trained, tmp_path, project, old, new, message):
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.operators.train import MLflowTrainOperator
    from airflow_mlops.training.estimator import EstimatorError

    text = (project / "dags" / "rider_churn.yaml").read_text()
    assert old in text
    bad = tmp_path / "rider_churn.yaml"
    bad.write_text(text.replace(old, new))
    _, _, path, _ = trained[("rider_churn", 0)]
    client = MLflowHook().get_conn()
    experiment = client.get_experiment_by_name("rider_churn")
    runs_before = len(client.search_runs([experiment.experiment_id]))
    context = make_context("rider_churn", "train", {"validate": {"dataset": str(path), "digest": "x"}})
    with pytest.raises(EstimatorError, match=message):
        MLflowTrainOperator(task_id="train", spec_path=str(bad), dataset=str(path), digest="x").execute(context)
    assert len(client.search_runs([experiment.experiment_id])) == runs_before
