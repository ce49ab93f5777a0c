"""Conventions: one door per service, one prediction module, hooks never call stages, no import cycles."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT

PACKAGE = PROJECT / "airflow_mlops"


def _hits(pattern: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    banned = re.compile(pattern)
    return [
        f"{path.relative_to(PROJECT)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() not in skip
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if banned.search(line)
    ]


def test_only_the_mlflow_hook_builds_clients_and_model_uris():
    assert _hits(r"MlflowClient\(|models:/", skip=("hooks/mlflow.py",)) == []


def test_only_the_mlflow_hook_asks_mlflow_about_aliases_versions_and_runs():
    calls = (
        r"get_model_version_by_alias|get_registered_model\(|set_registered_model_alias|search_model_versions"
        r"|set_model_version_tag|\.get_run\(|create_run\(|log_batch\(|register_model\("
    )
    assert _hits(calls, skip=("hooks/mlflow.py", "hooks/model_artifact.py")) == []


def test_one_prediction_module_asks_models():
    assert _hits(r"\.predict_proba\(|def predict\b", skip=("scoring/predict.py",)) == []


def test_hooks_do_not_call_stage_modules():
    """Hooks hand out connections and clients; operators call the stages (scoring, promotion, ...) with them."""
    stage = re.compile(r"from airflow_mlops\.(scoring\.(writers|scorer|predict)|promotion|monitoring|training)\b")
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in sorted((PACKAGE / "hooks").glob("*.py"))
        for line in path.read_text().splitlines()
        if stage.search(line) and "training.serialize" not in line  # the skops trust list belongs to the loader
    ]
    assert offenders == []


def test_the_mlflow_hook_swallows_only_does_not_exist():
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

    from airflow_mlops.hooks.mlflow import is_missing

    assert is_missing(MlflowException("Registered Model with name=x not found", error_code=RESOURCE_DOES_NOT_EXIST))
    assert is_missing(MlflowException("Registered model alias champion not found.", INVALID_PARAMETER_VALUE))
    assert not is_missing(MlflowException("bad filter", INVALID_PARAMETER_VALUE))
    assert not is_missing(MlflowException("database is locked", INTERNAL_ERROR))
    assert not is_missing(ConnectionError("mlflow:5000 refused the connection"))


def test_the_mlflow_hook_raises_when_mlflow_fails(tmp_path):
    """An unreachable registry is not "no champion": the lookup raises instead of returning None."""
    from airflow_mlops.hooks.mlflow import MLflowHook

    class Down:
        def get_model_version_by_alias(self, name, alias):
            raise ConnectionError("mlflow:5000 refused the connection")

    class DownHook(MLflowHook):
        def get_conn(self):
            return Down()

    with pytest.raises(ConnectionError):
        DownHook.for_tracking_uri(f"sqlite:///{tmp_path / 'x.db'}").version_by_alias("m", "champion")


def _modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__") for p in PACKAGE.rglob("*.py")
    )


def test_every_module_imports_alone_in_a_fresh_interpreter(tmp_path):
    """Import cycles (e.g. spec <-> rules) show as a failure to import some module first; each goes first once."""
    script = (
        "import importlib, subprocess, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    proc = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
        "    if proc.returncode:\n"
        "        failed.append(f'{name}: ' + (proc.stderr.strip().splitlines() or ['?'])[-1])\n"
        "print('\\n'.join(failed))\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "PYTHONPATH": str(PROJECT)}
    out = subprocess.run(
        [sys.executable, "-c", script, *_modules()], capture_output=True, text=True, timeout=1200, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_no_import_cycles_between_subpackages():
    """The static import graph of the package's subpackages (module level and lazy imports alike) is acyclic."""
    import ast
    import graphlib

    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        here = parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else ""
        deps = graph.setdefault(here, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == "airflow_mlops" and len(bits) > 1 and bits[1] != here:
                    deps.add(bits[1])
    graph.pop("", None)
    for deps in graph.values():
        deps.discard("")
    # Allowed direction: the spec validates rule text (spec -> rules); rules never import spec.
    pairs = {(a, b) for a, deps in graph.items() for b in deps if a in graph.get(b, set())}
    assert ("rules", "spec") not in pairs and ("spec", "rules") not in pairs, sorted(pairs)
    graphlib.TopologicalSorter({k: v for k, v in graph.items() if k in ("spec", "rules", "metric_names")}).prepare()
