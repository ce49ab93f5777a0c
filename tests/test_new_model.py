"""`airflow-mlops new` scaffolds a model that validates and runs train → score → monitor with no hand edits."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from airflow_mlops.cli.demo import dags_test, demo_env, demo_models

from .conftest import PROJECT, run_cli

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
NEW = [
    "new", "delivery_time", "--entity", "store_id", "--timestamp", "ts", "--task", "regression",
    "--feature", "orders_last_hour:int", "--feature", "avg_prep:float", "--feature", "region:str",
    "--label", "minutes",
]  # fmt: skip


def copy_project(root: Path) -> Path:
    """dags/, configs/ and include/ of this checkout under ``root`` (as a user's project)."""
    for folder in ("dags", "configs", "include"):
        shutil.copytree(PROJECT / folder, root / folder, ignore=IGNORE)
    return root


def scaffold(project: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli(["airflow-mlops", *NEW, "--project", str(project), *extra], cwd=project)


def test_dry_run_writes_nothing_and_existing_files_are_never_overwritten(tmp_path):
    project = copy_project(tmp_path / "p")
    before = sorted(p for p in project.rglob("*") if p.is_file())
    dry = scaffold(project, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(p for p in project.rglob("*") if p.is_file()) == before
    expected = ["dags/delivery_time.yaml", "dags/delivery_time.py", "configs/feature_repo/delivery_time_features.py",
                "include/generators/delivery_time.py"]  # fmt: skip
    assert [f"would write {project / e}" for e in expected] == dry.stdout.splitlines()

    (project / "include" / "generators" / "delivery_time.py").write_text("# mine\n")
    refused = scaffold(project)
    assert refused.returncode == 1 and "delivery_time.py exists" in refused.stderr
    assert (project / "include" / "generators" / "delivery_time.py").read_text() == "# mine\n"
    assert not (project / "dags" / "delivery_time.yaml").exists(), "nothing is written when one file exists"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feature", "ts:int"], "'ts' is declared twice"),
        (["--feature", "created:float"], "'created' is declared twice"),
        (["--feature", "x:datetime"], "type must be one of int, float, str, bool"),
        (["--feature", "bad-name:int"], "not a column name"),
        (["--entity", "zone_id:float"], "type must be one of int, str"),
    ],
)
def test_bad_declarations_are_refused_before_writing(tmp_path, args, message):
    project = copy_project(tmp_path / "p")
    out = scaffold(project, *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (project / "dags" / "delivery_time.yaml").exists()


def test_a_name_the_feast_repo_already_uses_is_refused(tmp_path):
    project = copy_project(tmp_path / "p")
    out = run_cli(["airflow-mlops", *NEW[:1], "zone_hourly", *NEW[2:], "--project", str(project)], cwd=project)
    assert out.returncode == 1 and "already defines a feature view or service named 'zone_hourly'" in out.stderr
    assert not (project / "dags" / "zone_hourly.yaml").exists()


def test_example_feature_views_keep_their_sources(monkeypatch, tmp_path):
    """_source() takes the timestamp column; the examples still read event_timestamp and created."""
    from airflow_mlops.spec.deep.feast_repo import _importable

    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path))
    repo = PROJECT / "configs" / "feature_repo"
    with _importable(repo):
        import features  # type: ignore[import-not-found]

        for view in (features.zone_hourly, features.rider_activity):
            source = view.batch_source
            assert (source.timestamp_field, source.created_timestamp_column) == ("event_timestamp", "created")
            assert source.path == f"{tmp_path}/data/{view.name}.parquet"
        custom = features._source("x", timestamp="ts", created=None)
        assert (custom.timestamp_field, custom.created_timestamp_column) == ("ts", "")


@pytest.mark.slow
def test_scaffolded_model_validates_and_runs_train_score_monitor(tmp_path):
    project = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    made = scaffold(project)
    assert made.returncode == 0, made.stderr
    env = demo_env(home, project)
    assert demo_models(project) == ["ride_demand", "rider_churn", "delivery_time"]

    # the demo's data step: example data, then every generator (the new model's files included)
    (home / "logs").mkdir(parents=True)
    datagen = [sys.executable, "-m", "include.datagen", str(home / "data")]
    subprocess.run(datagen, cwd=project, env=env, check=True, capture_output=True)
    import pandas as pd

    features = pd.read_parquet(home / "data" / "delivery_time.parquet")
    assert {"store_id", "ts", "created", "orders_last_hour", "avg_prep", "region"} == set(features.columns)
    labels = pd.read_parquet(home / "data" / "delivery_time_labels.parquet")
    assert list(labels.columns) == ["store_id", "ts", "minutes"] and len(labels) == len(features) > 100

    valid = run_cli(["airflow-mlops", "validate", "dags/"], env=env, cwd=project)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "dags/delivery_time.yaml: ok (delivery_time, regression" in valid.stdout

    migrate = run_cli(["airflow", "db", "migrate"], env=env)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    for kind in ("train", "score", "monitor"):
        conf = {"reason": "manual", "note": "new model test"} if kind == "train" else None
        ok, log = dags_test(f"delivery_time__{kind}", env, home / "logs", conf)
        assert ok, log.read_text(errors="replace")[-4000:]

    with closing(sqlite3.connect(home / "scores.db")) as db:
        rows, versions = db.execute(
            'SELECT COUNT(*), COUNT(DISTINCT model_version) FROM "delivery_time_scores"'
        ).fetchone()
    assert rows > 0 and versions == 1
    assert list((home / "reports" / "delivery_time" / "monitoring").glob("*/report.html"))


@pytest.mark.parametrize("kind", ["file", "postgres"])
def test_scaffolded_source_matches_the_shared_helper(tmp_path, monkeypatch, kind):
    """The new file's own copy of _source() builds the source features.py's _source() would (no drift)."""
    import importlib.util

    from airflow_mlops.cli._scaffold import Model, feature_text
    from airflow_mlops.spec.deep.feast_repo import _importable

    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_MLOPS_FEATURE_SOURCE", kind)
    model = Model("m1", "k", "str", "ts", "classification", (("a", "float"), ("b", "bool")), "y", "t")
    path = tmp_path / "m1_features.py"
    path.write_text(feature_text(model))
    spec = importlib.util.spec_from_file_location("m1_features_under_test", path)  # as FeastHook loads repo files
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with _importable(PROJECT / "configs" / "feature_repo"):
        import features  # type: ignore[import-not-found]

        shared = features._source("m1", timestamp="ts")
    assert module.m1_view.batch_source == shared
    assert [f.name for f in module.m1_view.features] == ["a", "b"]
    assert module.m1_entity.join_key == "k"


def test_help_has_examples_that_run(tmp_path):
    out = run_cli(["airflow-mlops", "new", "--help"])
    examples = out.stdout.split("examples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith("  airflow-mlops new ") for line in examples if line)
    project = copy_project(tmp_path / "p")
    for line in filter(None, examples):  # each example is valid as written (run dry)
        args = [*line.split()[1:], "--project", str(project), "--dry-run"]
        ran = run_cli(["airflow-mlops", *args], cwd=project)
        assert ran.returncode == 0 and "would write" in ran.stdout, (line, ran.stderr)
