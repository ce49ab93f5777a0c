"""A challenger better on old data but worse on the fresh window loses to the champion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.datasets import file_digest
from airflow_mlops.links import ReportLink

from .conftest import make_context, spec_path

pytestmark = pytest.mark.slow  # trains and logs real models to MLflow (~10 s per module idle)

MODEL = "ride_demand"
HOURS = 120
ZONES = 6


def demand_frame(start: str, fresh_from_hour: int | None, seed: int) -> pd.DataFrame:
    """Hourly rows per zone; trips = 2*lag + 5 before ``fresh_from_hour``, 110 - 2*lag from it on.

    ``fresh_from_hour=None`` gives the new relationship (110 - 2*lag) everywhere.
    """
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=HOURS, freq="h", tz="UTC")
    grid = pd.MultiIndex.from_product([range(1, ZONES + 1), stamps], names=["zone_id", "event_timestamp"])
    frame = grid.to_frame(index=False)
    frame["hour"] = frame["event_timestamp"].dt.hour.astype("int64")
    frame["day_of_week"] = frame["event_timestamp"].dt.dayofweek.astype("int64")
    frame["temperature"] = rng.normal(12, 3, len(frame)).round(1)
    frame["trips_lag_1h"] = rng.uniform(0, 50, len(frame)).round(1)
    frame["zone_type"] = np.array(["airport", "downtown", "suburb"], dtype=object)[frame["zone_id"] % 3]
    new_rule = np.ones(len(frame), dtype=bool)
    if fresh_from_hour is not None:
        new_rule = (frame["event_timestamp"] >= stamps[fresh_from_hour]).to_numpy()
    old_trips = 2 * frame["trips_lag_1h"] + 5
    new_trips = 110 - 2 * frame["trips_lag_1h"]
    frame["trips"] = np.where(new_rule, new_trips, old_trips) + rng.normal(0, 1, len(frame))
    return frame


def train(path: Path, run_id: str) -> dict:
    from airflow_mlops.operators.train import MLflowTrainOperator

    context = make_context(MODEL, "train", {"validate": {"dataset": str(path), "digest": file_digest(path)}}, run_id)
    inputs = {"dataset": str(path), "digest": file_digest(path)}
    return MLflowTrainOperator(task_id="train", spec_path=spec_path(MODEL), **inputs).execute(context)


@pytest.fixture(scope="module")
def comparison(mlops_home):
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.operators.evaluate import EvaluateOperator

    folder = mlops_home / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "first.parquet", folder / "second.parquet"
    demand_frame("2026-01-01", None, seed=1).to_parquet(first, index=False)
    # 80 % holdout cut of 120 hours is hour 96: the relationship changes exactly in the fresh window
    demand_frame("2026-01-06", 96, seed=2).to_parquet(second, index=False)

    champion = train(first, "scheduled__1")
    MLflowHook().set_alias(MODEL, "champion", champion["model_version"])  # what the promotion gate would do
    challenger = train(second, "scheduled__2")
    context = make_context(MODEL, "evaluate", {"train": challenger, "validate": {"dataset": str(second)}})
    inputs = {"dataset": challenger["dataset"], "model_version": challenger["model_version"]}
    evaluate = EvaluateOperator(task_id="evaluate", spec_path=spec_path(MODEL), run_id=challenger["run_id"], **inputs)
    result = evaluate.execute(context)
    return {"champion": champion, "challenger": challenger, "result": result, "context": context, "data": second}


def test_challenger_is_better_on_old_data(comparison):
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.spec import load_spec
    from airflow_mlops.training.fit import evaluate_on
    from airflow_mlops.training.split import fresh_window_split

    spec = load_spec(spec_path(MODEL))
    older, _, _ = fresh_window_split(pd.read_parquet(comparison["data"]), "event_timestamp", 0.2)
    hook = MLflowHook()
    on_old = {
        side: evaluate_on(hook.load_model(MODEL, comparison[side]["model_version"]), older, spec)[0]["mae"]
        for side in ("champion", "challenger")
    }
    assert on_old["challenger"] * 5 < on_old["champion"]


def test_champion_is_better_on_the_fresh_window(comparison):
    result = comparison["result"]
    assert result["better"] == "champion"
    assert result["primary_metric"] == "mae"
    assert result["champion"]["version"] == comparison["champion"]["model_version"] == "1"
    assert result["challenger"]["version"] == comparison["challenger"]["model_version"] == "2"
    assert result["champion"]["metrics"]["mae"] * 5 < result["challenger"]["metrics"]["mae"]
    for zone_type, metrics in result["champion"]["slice_metrics"]["zone_type"].items():
        assert metrics["mae"] < result["challenger"]["slice_metrics"]["zone_type"][zone_type]["mae"], zone_type
    assert result["window"] == comparison["challenger"]["window"]
    assert result["window"]["rows"] == (HOURS - 96) * ZONES


def test_comparison_is_logged_to_both_runs(comparison):
    from airflow_mlops.hooks.mlflow import MLflowHook

    client = MLflowHook().get_conn()
    result = comparison["result"]
    for side in ("champion", "challenger"):
        entry = result[side]
        run = client.get_run(entry["run_id"])
        assert run.data.metrics["fresh/mae"] == pytest.approx(entry["metrics"]["mae"])
        airport = entry["slice_metrics"]["zone_type"]["airport"]["rmse"]
        assert run.data.metrics["fresh/slice/zone_type/airport/rmse"] == pytest.approx(airport)
        (history,) = client.get_metric_history(entry["run_id"], "fresh/mae")
        assert history.step == 2  # step = the challenger version this comparison was made for
        names = {a.path for a in client.list_artifacts(entry["run_id"], "evaluation/v2")}
        assert names == {"evaluation/v2/v2_vs_v1.html", "evaluation/v2/v2_vs_v1.json"}


def test_report_files_and_links(comparison):
    result, pushed = comparison["result"], comparison["context"]["ti"].pushed
    doc = json.loads(Path(result["report_json"]).read_text())
    assert doc["better"] == "champion"
    mae_row = next(r for r in doc["comparison"] if r["metric"] == "mae")
    assert mae_row["winner"] == "champion" and mae_row["delta"] > 0
    assert {r["value"] for r in doc["slice_comparison"]} == {"airport", "downtown", "suburb"}
    html = Path(result["report_html"]).read_text()
    assert "<b>champion</b>" in html and "airport" in html
    assert pushed[ReportLink.key] == Path(result["report_html"]).as_uri()
    assert pushed["mlops_mlflow_run_url"].endswith(f"/runs/{result['challenger']['run_id']}")
