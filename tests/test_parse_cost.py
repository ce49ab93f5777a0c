"""DAG parsing in a real ``airflow dag-processor``: a stub's fork loads nothing Airflow could have loaded once.

Airflow's DAG processor forks one process per DAG file and, before forking, imports the ``airflow.*``
modules the file names. Whatever else the fork imports is paid again for every spec on every parse
loop (benchmarks/bench_dagprocessor.py measures it), so the stub names the Airflow modules the factory
uses, the factory stays light, and rules that compiled before skip lark (airflow_mlops/rules/cache.py).
"""

from __future__ import annotations

import json
import shutil

import pytest
from airflow.utils.file import iter_airflow_imports

from airflow_mlops.factory import PREVIOUS_STUB_TEMPLATES, STUB_MARKER, STUB_TEMPLATE, dags_from_spec, write_stubs

from .conftest import PROJECT, airflow_env, run_cli

# The stub's own lines, with a snapshot of sys.modules around the factory call (and the serialization the
# DAG processor does next), written where the test reads it.
PROBE = """
import json as _json, sys as _sys
_before = set(_sys.modules)
{factory_import}
globals().update(dags_from_spec(__file__))
from airflow.serialization.serialized_objects import DagSerialization as _ser
[_ser.to_dict(_d) for _d in list(globals().values()) if type(_d).__name__ == "DAG"]
_json.dump(sorted(set(_sys.modules) - _before), open({out!r}, "w"))
"""

# Our own modules cannot be pre-imported (Airflow pre-imports airflow.* only); serializing a cron timetable
# imports airflow.timetables.trigger (0.4 ms: not worth a line in every stub).
ALLOWED_NEW = ("airflow_mlops", "airflow.timetables.trigger")
NEVER = ("lark", "boto3", "botocore", "pandas", "mlflow", "great_expectations", "evidently", "feast", "sklearn")


def test_the_stub_names_modules_airflow_pre_imports(tmp_path):
    stub = tmp_path / "ride_demand.py"
    stub.write_text(STUB_TEMPLATE.format(spec_name="ride_demand.yaml"))
    assert list(iter_airflow_imports(str(stub))) == [
        "airflow.providers.standard.operators.trigger_dagrun",
        "airflow.providers.standard.sensors.external_task",
    ]
    assert (PROJECT / "dags" / "ride_demand.py").read_text() == stub.read_text()  # the shipped stubs are current


def test_stub_rewrites_unedited_old_stubs_and_keeps_edited_ones(tmp_path):
    for name in ("old", "edited", "current"):
        shutil.copy2(PROJECT / "dags" / "ride_demand.yaml", tmp_path / f"{name}.yaml")
    old = PREVIOUS_STUB_TEMPLATES[0]
    (tmp_path / "old.py").write_text(old.format(spec_name="old.yaml"))
    edited = old.format(spec_name="edited.yaml") + "# my change\n"
    (tmp_path / "edited.py").write_text(edited)
    (tmp_path / "current.py").write_text(STUB_TEMPLATE.format(spec_name="current.yaml"))
    assert write_stubs(tmp_path) == [tmp_path / "old.py"]
    assert (tmp_path / "old.py").read_text() == STUB_TEMPLATE.format(spec_name="old.yaml")
    assert (tmp_path / "edited.py").read_text() == edited
    assert write_stubs(tmp_path) == []
    assert "ride_demand__train" in dags_from_spec(tmp_path / "old.py")  # the rewritten stub loads


@pytest.mark.slow
def test_a_spec_fork_imports_only_airflow_mlops(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy2(PROJECT / "dags" / "ride_demand.yaml", dags / "ride_demand.yaml")
    stub = STUB_TEMPLATE.format(spec_name="ride_demand.yaml")
    head, tail = stub.split(STUB_MARKER)
    out = tmp_path / "new_modules.json"
    probe = head + PROBE.format(factory_import=STUB_MARKER, out=str(out))
    assert "globals().update(dags_from_spec(__file__))" in tail
    (dags / "ride_demand.py").write_text(probe)
    env = airflow_env(tmp_path / "home", dags) | {"AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1"}
    migrate = run_cli(["airflow", "db", "migrate"], env=env)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    for loop in ("cold", "warm"):  # the first loop compiles the spec's rules once; the second is every later loop
        out.unlink(missing_ok=True)
        proc = run_cli(["airflow", "dag-processor", "-n", "1"], env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert out.exists(), f"{loop}: the probe stub did not run:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    new = json.loads(out.read_text())
    tops = {m.split(".")[0] for m in new}
    assert not tops & set(NEVER), sorted(tops & set(NEVER))
    unexpected = [m for m in new if not any(m == a or m.startswith(f"{a}.") for a in ALLOWED_NEW)]
    assert unexpected == [], "imported again in every fork: name it in the stub, or import it lazily"
