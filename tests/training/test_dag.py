"""`airflow dags test` of each example training DAG trains, evaluates and registers a version."""

from __future__ import annotations

import pytest

from airflow_mlops.cli.demo import dags_test


@pytest.mark.slow
@pytest.mark.parametrize("model", ["ride_demand", "rider_churn"])
def test_train_dag_trains_evaluates_and_registers(demo_home, model):
    from mlflow.tracking import MlflowClient

    home, env = demo_home
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # registry too: an earlier test may have set a global one
    before = {v.version for v in client.search_model_versions(f"name='{model}'")} if _has_store(home) else set()

    ok, log = dags_test(f"{model}__train", env, home / "logs", {"reason": "manual", "note": "training test"})
    assert ok, log.read_text(errors="replace")[-4000:]

    versions = client.search_model_versions(f"name='{model}'")
    (new,) = [v for v in versions if v.version not in before]
    assert str(client.get_model_version_by_alias(model, "challenger").version) == str(new.version)
    run = client.get_run(new.run_id)
    assert run.data.tags["mlops.dag_id"] == f"{model}__train"
    assert run.data.tags["mlops.trigger_reason"] == "manual"
    assert run.data.tags["mlops.note"] == "training test"
    assert run.data.tags["mlops.dag_run_id"].startswith("manual__")
    primary = "mae" if model == "ride_demand" else "auc"
    assert primary in run.data.metrics and f"fresh/{primary}" in run.data.metrics
    assert run.inputs.dataset_inputs, "the training set is logged as a dataset input"
    reports = list((home / "reports" / model / "evaluation").glob(f"v{new.version}*.html"))
    assert reports, "evaluate wrote its HTML report"
    assert "skops/io/_utils.py" not in log.read_text(errors="replace")  # no flood of skops warnings


def _has_store(home) -> bool:
    return (home / "mlflow" / "mlflow.db").exists()
