"""The DAG factory: specs become DAGs, parsing stays light, one bad spec hides nothing else."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops.factory import dags_from_spec, dags_from_unstubbed_specs, write_stubs
from airflow_mlops.spec import SpecError

from .conftest import PROJECT, airflow_env, run_cli

HEAVY = ("mlflow", "great_expectations", "evidently", "feast", "sklearn")


def test_parsing_dags_folder_imports_no_heavy_library():
    code = f"""
import glob, runpy, sys
for f in sorted(glob.glob({str(PROJECT / "dags" / "*.py")!r})):
    runpy.run_path(f)
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
print("HEAVY=" + ",".join(heavy))
print("PANDAS=" + str("pandas" in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout, out.stdout
    assert "PANDAS=False" in out.stdout


def test_train_dag_shape_and_metadata():
    dags = dags_from_spec(PROJECT / "dags" / "ride_demand.py")
    assert set(dags) == {"ride_demand__train", "ride_demand__score", "ride_demand__monitor", "ride_demand__rollback"}
    train = dags["ride_demand__train"]
    assert [t.task_id for t in train.topological_sort()] == [
        "materialize",
        "validate",
        "train",
        "evaluate",
        "promote",
        "if_promoted",
        "refresh_scores",
        "trigger_requests",
        "trigger_actions",
    ]
    assert {"airflow-mlops", "train", "marketplace", "UberX", "regression"} <= set(train.tags)
    assert train.default_args["owner"] == "marketplace"
    assert "ride_demand · train" in train.doc_md and "`hour`" in train.doc_md
    score = dags["ride_demand__score"].timetable  # a data-interval timetable: each run scores its interval
    assert (type(score).__name__, score.expression) == ("CronDataIntervalTimetable", "0 0 * * *")  # @daily
    assert dags["ride_demand__rollback"].params["version"] == 1


def test_catch_all_loads_specs_without_stub(tmp_path):
    shutil.copy(PROJECT / "dags" / "ride_demand.yaml", tmp_path / "ride_demand.yaml")
    catch_all = tmp_path / "airflow_mlops_specs.py"
    assert "ride_demand__train" in dags_from_unstubbed_specs(catch_all)
    write_stubs(tmp_path)
    assert dags_from_unstubbed_specs(catch_all) == {}


def test_catch_all_names_broken_unstubbed_spec(tmp_path):
    (tmp_path / "oops.yaml").write_text("model: {name: Oops}\n")
    with pytest.raises(SpecError) as info:
        dags_from_unstubbed_specs(tmp_path / "airflow_mlops_specs.py")
    text = str(info.value)
    assert "oops.yaml:1: model.name" in text and "airflow-mlops stub" in text


def _dags_folder_with_broken_spec(tmp_path: Path) -> Path:
    dags = tmp_path / "dags"
    shutil.copytree(PROJECT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    text = (PROJECT / "dags" / "ride_demand.yaml").read_text()
    broken = text.replace("name: ride_demand", "name: broken_model").replace("\ntraining:", "\ntrainig:")
    (dags / "broken_model.yaml").write_text(broken.replace("max: 23", "max: abc"))
    write_stubs(dags)
    return dags


@pytest.mark.slow
def test_airflow_lists_every_dag_and_the_broken_specs_error(tmp_path):
    dags = _dags_folder_with_broken_spec(tmp_path)
    env = airflow_env(tmp_path / "home", dags)
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    listed = run_cli(["airflow", "dags", "list", "--local", "-B", "dags-folder", "-o", "plain"], env)
    for model in ("ride_demand", "rider_churn"):
        for kind in ("train", "score", "monitor", "rollback"):
            assert f"{model}__{kind}" in listed.stdout
    assert "broken_model__" not in listed.stdout
    errors = run_cli(["airflow", "dags", "list-import-errors", "--local", "-B", "dags-folder", "-o", "json"], env)
    assert "broken_model.py" in errors.stdout
    assert "broken_model.yaml" in errors.stdout
    assert "trainig" in errors.stdout and "validation.columns.hour.max" in errors.stdout
    assert "ride_demand.py" not in errors.stdout


@pytest.mark.slow
def test_provider_is_registered(tmp_path):
    out = run_cli(["airflow", "providers", "list", "-o", "plain"], airflow_env(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "airflow-mlops" in out.stdout


@pytest.mark.slow
def test_provider_declares_hooks_and_extra_links(tmp_path):
    env = airflow_env(tmp_path)
    hooks = run_cli(["airflow", "providers", "hooks", "-o", "plain"], env)
    assert "airflow_mlops.hooks.mlflow.MLflowHook" in hooks.stdout
    links = run_cli(["airflow", "providers", "links", "-o", "plain"], env)
    for link in ("MLflowRunLink", "ReportLink", "ValidationReportLink"):
        assert f"airflow_mlops.links.{link}" in links.stdout
