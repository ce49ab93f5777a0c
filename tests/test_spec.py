"""The spec schema and loader: valid examples, one clear line per problem, no secrets."""

from __future__ import annotations

import json

import pytest

from airflow_mlops.spec import SpecError, json_schema, load_spec, parse_spec
from airflow_mlops.spec.schema import duration_seconds

from .conftest import PROJECT

EXAMPLES = sorted((PROJECT / "dags").glob("*.yaml"))


def _ride_demand_text() -> str:
    return (PROJECT / "dags" / "ride_demand.yaml").read_text()


def _problems(text: str) -> list:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "specs/bad.yaml")
    return info.value.problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path):
    spec = load_spec(path)
    assert spec.dag_ids["train"] == f"{spec.model.name}__train"
    assert spec.training.metrics


def test_example_defaults():
    spec = load_spec(PROJECT / "dags" / "rider_churn.yaml")
    assert spec.model.task == "classification"
    assert spec.monitoring.drift.share_of_drifted_columns == 0.3
    assert spec.validation.columns["avg_rating"].max == 5
    assert spec.promotion.environment == "production"


def test_misspelt_section_and_bad_max_name_file_field_and_line():
    text = _ride_demand_text().replace("\ntraining:", "\ntrainig:").replace("max: 23", "max: abc")
    problems = _problems(text)
    by_field = {p.field: p for p in problems}
    assert "trainig" in by_field and "unknown field" in by_field["trainig"].message
    assert by_field["trainig"].line == text.splitlines().index("trainig:") + 1
    hour = by_field["validation.columns.hour.max"]
    assert "'abc'" in hour.message and "number" in hour.message
    assert hour.line == next(i for i, ln in enumerate(text.splitlines(), 1) if "max: abc" in ln)
    assert all(str(p).startswith("specs/bad.yaml:") for p in problems)


def test_typo_inside_a_section_is_rejected():
    problems = _problems(_ride_demand_text().replace("chunk_rows:", "chunk_row:"))
    assert [p.field for p in problems] == ["scoring.chunk_row"]


@pytest.mark.parametrize(
    "replacement",
    [
        ("conn_id: scores_db, table", "conn_id: scores_db, password: hunter2, table"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  api_key: abc123"),
    ],
)
def test_inline_credentials_are_rejected(replacement):
    problems = _problems(_ride_demand_text().replace(*replacement))
    assert len(problems) == 1
    assert "Airflow connection" in problems[0].message and "conn_id" in problems[0].message


def test_uri_with_password_is_rejected():
    text = _ride_demand_text().replace("description: Trips", "description: postgresql://bob:s3cret@db/x Trips")
    problems = _problems(text)
    assert problems[0].field == "model.description"
    assert "password" in problems[0].message


def test_invalid_yaml_names_line():
    problems = _problems("model:\n  name: [unclosed\n")
    assert problems[0].field == "(yaml)" and problems[0].line is not None


def test_metrics_must_fit_task():
    problems = _problems(_ride_demand_text().replace("metrics: [mae, rmse, r2, bias]", "metrics: [mae, auc]"))
    assert "auc" in problems[0].message and "regression" in problems[0].message


def test_only_sklearn_estimators():
    problems = _problems(_ride_demand_text().replace("sklearn.ensemble.", "os.system."))
    assert problems[0].field == "training.estimator"


def test_min_above_max():
    problems = _problems(_ride_demand_text().replace("min: 0, max: 23", "min: 30, max: 23"))
    assert problems[0].field == "validation.columns.hour"


def test_json_schema_export():
    schema = json_schema()
    json.dumps(schema)
    assert set(schema["required"]) >= {"model", "features", "training", "scoring"}
    assert schema["$defs"]["ModelSection"]["additionalProperties"] is False


def test_durations():
    assert duration_seconds("6h") == 21600
    with pytest.raises(ValueError):
        duration_seconds("six hours")


def test_secret_with_leading_space_is_rejected_without_echo():
    """pydantic strips whitespace after the check ran; the check must not depend on it."""
    text = _ride_demand_text().replace("  chunk_rows: 100000", "  chunk_rows: 100000\n  api-key: '  zq8Xw2Tq'")
    [problem] = _problems(text)
    assert problem.field == "scoring.api-key" and "zq8Xw2Tq" not in str(problem)


def test_hostile_yaml_is_a_problem_not_a_traceback():
    bomb = 'a: &a ["lol","lol"]\nb: &b [*a,*a]\n'
    assert "anchors" in _problems(bomb)[0].message
    assert "nested deeper" in _problems("[" * 5000)[0].message
