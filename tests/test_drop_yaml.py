"""Drop a YAML into dags/: the spec bundle gives every stub-less spec its own DAG file, so one broken spec
hides no other DAG, and Airflow lists each broken spec as its own import error (real Airflow CLI)."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pytest

from airflow_mlops.bundle import GENERATED_MARKER, SpecDagBundle, generated_files, sync
from airflow_mlops.factory import dags_from_spec_file, dags_from_unstubbed_specs, write_stubs
from airflow_mlops.spec import SpecError

from .conftest import PROJECT, airflow_env, run_cli

KINDS = ("train", "score", "monitor", "rollback")


def bundle_config(dags: Path, generated: Path) -> str:
    return json.dumps(
        [
            {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
            {
                "name": "mlops-specs",
                "classpath": "airflow_mlops.bundle.SpecDagBundle",
                "kwargs": {"specs_folder": str(dags), "path": str(generated)},
            },
        ]
    )


def json_rows(stdout: str) -> list[dict]:
    """The JSON table Airflow prints (log lines may come before it on stdout)."""
    return json.loads(next(line for line in reversed(stdout.splitlines()) if line.startswith("[")))


def hostile_dags_folder(tmp_path: Path) -> Path:
    """Two good specs without stubs, beside every kind of bad neighbour."""
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in ("ride_demand", "rider_churn"):
        shutil.copy(PROJECT / "dags" / f"{name}.yaml", dags / f"{name}.yaml")
    shutil.copy(PROJECT / "dags" / "airflow_mlops_specs.py", dags / "airflow_mlops_specs.py")
    good = (PROJECT / "dags" / "ride_demand.yaml").read_text()
    broken = good.replace("name: ride_demand", "name: broken_model").replace("\ntraining:", "\ntrainig:")
    (dags / "broken_model.yaml").write_text(broken)
    (dags / "garbled.yaml").write_text("model:\n  name: [garbled\n  team: x\n")
    shutil.copy(dags / "rider_churn.yaml", dags / "twin.yaml")  # same model name as rider_churn.yaml
    (dags / "settings.yaml").write_text("retries: 3\nowners: [data-team]\n")  # not a spec: left alone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ext.yaml").write_text(good.replace("name: ride_demand", "name: ext_model"))
    (dags / "outside.yaml").symlink_to(elsewhere / "ext.yaml")
    return dags


def test_generated_files_are_deterministic_and_name_each_problem(tmp_path):
    dags = hostile_dags_folder(tmp_path)
    files = generated_files(dags)
    names = ["broken_model", "garbled", "outside", "ride_demand", "rider_churn", "twin"]
    assert sorted(files) == [f"{name}.py" for name in names]
    assert files == generated_files(dags)
    assert "already defined by rider_churn.yaml" in files["twin.py"]
    assert "symlink out of the dags folder" in files["outside.py"]
    assert "problem=None" in files["ride_demand.py"] and "problem=None" in files["garbled.py"]
    assert not any(p.suffix == ".py" for p in dags.iterdir() if p.name != "airflow_mlops_specs.py")  # dags/ untouched


def test_sync_follows_the_folder_and_a_deleted_spec_yields_nothing(tmp_path):
    dags, out = hostile_dags_folder(tmp_path), tmp_path / "generated"
    (out).mkdir()
    (out / "mine.py").write_text("# a file of someone else's\n")
    assert "rider_churn.py" in sync(dags, out)
    assert sync(dags, out) == []  # nothing changed: nothing rewritten
    (dags / "broken_model.yaml").unlink()  # deleted between two parses: its stale file loads no DAG, no error
    assert dags_from_spec_file(dags / "broken_model.yaml") == {}
    (dags / "rider_churn.yaml").unlink()  # the twin now owns the model name
    assert sync(dags, out) == ["broken_model.py", "rider_churn.py", "twin.py"]
    assert "problem=None" in (out / "twin.py").read_text()
    shutil.copy(dags / "twin.yaml", dags / "a_twin.yaml")  # sorts first, but a stubbed spec owns the name
    (dags / "twin.py").write_text((PROJECT / "dags" / "rider_churn.py").read_text())  # twin.yaml gets a stub
    sync(dags, out)
    assert "already defined by twin.yaml" in (out / "a_twin.py").read_text() and not (out / "twin.py").exists()
    (dags / "a_twin.yaml").unlink()
    assert (out / "mine.py").exists() and not (out / "broken_model.py").exists()
    assert "rider_churn__train" in dags_from_spec_file(dags / "twin.yaml")
    with pytest.raises(SpecError, match="symlink out of the dags folder"):
        runpy.run_path(str(out / "outside.py"))
    write_stubs(dags)  # `airflow-mlops stub` still works; stubbed specs leave the bundle
    assert not (dags / "settings.py").exists()
    assert sync(dags, out) and sorted(p.name for p in out.glob("*.py")) == ["mine.py"]


def test_catch_all_stands_down_when_the_spec_bundle_covers_its_folder(tmp_path, monkeypatch):
    dags = hostile_dags_folder(tmp_path)
    with pytest.raises(SpecError, match=r"garbled\.yaml"):
        dags_from_unstubbed_specs(dags / "airflow_mlops_specs.py")
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", bundle_config(dags, tmp_path / "gen"))
    assert dags_from_unstubbed_specs(dags / "airflow_mlops_specs.py") == {}


def test_bundle_default_path_is_per_folder_and_never_in_dags(tmp_path):
    dags = hostile_dags_folder(tmp_path)
    bundle = SpecDagBundle(name="mlops-specs", specs_folder=str(dags))
    other = SpecDagBundle(name="mlops-specs", specs_folder=str(tmp_path))
    assert bundle.path != other.path and not bundle.path.is_relative_to(dags)
    assert GENERATED_MARKER in (bundle.path / "ride_demand.py").read_text()


@pytest.mark.slow
def test_airflow_lists_good_dags_and_one_import_error_per_bad_spec(tmp_path):
    dags = hostile_dags_folder(tmp_path)
    env = airflow_env(tmp_path / "home", dags)
    env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = bundle_config(dags, tmp_path / "generated")
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    both = ["-B", "dags-folder", "-B", "mlops-specs"]
    listed = run_cli(["airflow", "dags", "list", "--local", *both, "-o", "json"], env)
    dag_ids = {d["dag_id"] for d in json_rows(listed.stdout)}
    assert dag_ids == {f"{m}__{k}" for m in ("ride_demand", "rider_churn") for k in KINDS}, listed.stderr[-2000:]
    out = run_cli(["airflow", "dags", "list-import-errors", "--local", *both, "-o", "json"], env)
    errors = {(e["bundle_name"], e["filepath"]): e["error"] for e in json_rows(out.stdout)}
    assert set(errors) == {("mlops-specs", f) for f in ("broken_model.py", "garbled.py", "twin.py", "outside.py")}
    assert "trainig" in errors[("mlops-specs", "broken_model.py")]
    assert "garbled.yaml" in errors[("mlops-specs", "garbled.py")]
    assert "already defined by rider_churn.yaml" in errors[("mlops-specs", "twin.py")]
    assert "symlink out of the dags folder" in errors[("mlops-specs", "outside.py")]
    # The real DAG processor (one parse loop) records the same DAGs and the same per-spec import errors.
    assert run_cli(["airflow", "dag-processor", "-n", "1"], env, timeout=300).returncode == 0
    recorded = json_rows(run_cli(["airflow", "dags", "list-import-errors", "-o", "json"], env).stdout)
    assert {(e["bundle_name"], e["filepath"]) for e in recorded} == set(errors)
    listed = json_rows(run_cli(["airflow", "dags", "list", "-o", "json"], env).stdout)
    assert {d["dag_id"] for d in listed} == dag_ids
    assert not any(p.suffix == ".py" for p in dags.iterdir() if p.name != "airflow_mlops_specs.py")


def test_demo_home_persists_the_spec_bundle_over_airflows_multiline_default(tmp_path):
    from airflow_mlops.cli import _demo_home

    cfg = tmp_path / "airflow.cfg"
    default = '[dag_processor]\ndag_bundle_config_list = [\n    {\n        "name": "dags-folder"\n    }\n    ]\n\n'
    cfg.write_text(default + "# How often\nrefresh_interval = 300\n")
    settings = _demo_home.demo_settings(tmp_path / "home", PROJECT)
    _demo_home.set_options(cfg, settings)
    options = _demo_home.read_options(cfg)
    bundles = json.loads(options.get("dag_processor", "dag_bundle_config_list"))
    assert [b["classpath"] for b in bundles][1] == "airflow_mlops.bundle.SpecDagBundle"
    assert options.get("dag_processor", "refresh_interval") == "300" and "# How often" in cfg.read_text()


def test_generated_files_stay_cheap_to_parse(tmp_path):
    """Same pre-imports as the stub (Airflow imports them once before forking), and the bundle module that the
    DAG processor and every worker import pulls in no ML library."""
    from airflow.utils.file import iter_airflow_imports

    from airflow_mlops.factory import STUB_TEMPLATE

    dags, out = hostile_dags_folder(tmp_path), tmp_path / "generated"
    sync(dags, out)
    (tmp_path / "stub.py").write_text(STUB_TEMPLATE.format(spec_name="x.yaml"))
    assert list(iter_airflow_imports(str(out / "ride_demand.py"))) == list(
        iter_airflow_imports(str(tmp_path / "stub.py"))
    )
    probe = "import sys, airflow_mlops.bundle; print(' '.join(sorted(sys.modules)))"
    loaded = set(run_cli(["python", "-c", probe]).stdout.split())
    assert "airflow_mlops.bundle" in loaded
    assert not loaded & {"pandas", "mlflow", "great_expectations", "evidently", "feast", "sklearn", "lark"}
