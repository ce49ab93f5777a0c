"""Shared fixtures. AIRFLOW_HOME points at a temporary folder before anything imports Airflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
os.environ.setdefault("AIRFLOW_HOME", str(_SESSION_HOME / "airflow"))
os.environ.setdefault("AIRFLOW_MLOPS_HOME", str(_SESSION_HOME / "mlops"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
VENV_BIN = Path(sys.executable).parent


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def project() -> Path:
    return PROJECT


def airflow_env(home: Path, dags_folder: Path | None = None) -> dict[str, str]:
    """Environment for a real Airflow CLI run with all state under ``home``."""
    from airflow_mlops.cli.demo import demo_env

    env = demo_env(home, PROJECT)
    if dags_folder is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    return env


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: int = 600, cwd: Path = PROJECT
) -> subprocess.CompletedProcess:
    """Run a console script of the project's venv (airflow, airflow-mlops) and capture its output."""
    exe = str(VENV_BIN / args[0]) if (VENV_BIN / args[0]).exists() else args[0]
    return subprocess.run([exe, *args[1:]], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A migrated Airflow home with generated example data, shared by DAG-level tests."""
    from airflow_mlops.cli.demo import prepare

    home = tmp_path_factory.mktemp("demo-home")
    env = airflow_env(home)
    prepare(home, PROJECT, env)
    return home, env


@pytest.fixture(scope="session")
def pg():
    """A real PostgreSQL server started for this test session (see tests/pg.py)."""
    from .pg import postgres_server

    with postgres_server() as server:
        yield server
