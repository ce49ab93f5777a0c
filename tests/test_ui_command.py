"""``airflow-mlops ui`` (``./dev ui``): Airflow on exactly the state the demo left, nothing inherited, nothing else."""

from __future__ import annotations

import os
import subprocess

import pytest

from airflow_mlops.cli import _demo_home
from airflow_mlops.cli.ui import OVERRIDES, ui_env

from .conftest import PROJECT, VENV_BIN, run_cli
from .pg import free_port

AIRFLOW_CFG = """[core]
# The folder where your airflow pipelines live
dags_folder = /somewhere/else
#load_examples = True
load_examples = True

[logging]
log_format = [%%(asctime)s] %%(message)s
"""


def test_set_options_edits_only_its_lines(tmp_path):
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(AIRFLOW_CFG)
    settings = _demo_home.demo_settings(tmp_path / "home", PROJECT)
    _demo_home.set_options(cfg, settings)
    _demo_home.set_options(cfg, settings)  # idempotent
    text = cfg.read_text()
    assert text.count("dags_folder =") == 1 and f"dags_folder = {PROJECT / 'dags'}" in text
    assert "\nload_examples = False\n" in text and "#load_examples = True" in text  # the comment stays
    assert "# The folder where your airflow pipelines live" in text and "%%(asctime)s" in text
    assert text.count("[mlops]") == 1
    options = _demo_home.read_options(cfg)
    assert options.get("mlops", "home") == str(tmp_path / "home")
    assert options.get("core", "load_examples") == "False"


@pytest.mark.parametrize("bad", ["with\nnewline", "percent%(x)s", "tab\there"])
def test_paths_that_would_rewrite_other_options_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"cannot go into airflow\.cfg"):
        _demo_home.demo_settings(tmp_path / bad, PROJECT)


def test_refuses_a_home_without_demo_state(tmp_path):
    out = run_cli(["airflow-mlops", "ui", "--home", str(tmp_path / "nothing"), "--port", str(free_port())])
    assert out.returncode == 1
    assert "no demo state under" in out.stderr and f"run ./dev demo --home {tmp_path / 'nothing'} first" in out.stderr
    # the default home (./mlops-demo of the working folder)
    out = run_cli(["airflow-mlops", "ui"], cwd=tmp_path)
    assert out.returncode == 1 and f"no demo state under {tmp_path / 'mlops-demo'}: run ./dev demo first" in out.stderr
    # a bare Airflow home (migrated, but never a demo) is refused too
    (tmp_path / "bare" / "airflow").mkdir(parents=True)
    (tmp_path / "bare" / "airflow" / "airflow.db").write_bytes(b"")
    (tmp_path / "bare" / "airflow" / "airflow.cfg").write_text(AIRFLOW_CFG)
    out = run_cli(["airflow-mlops", "ui", "--home", str(tmp_path / "bare")])
    assert out.returncode == 1 and "first" in out.stderr and "no demo state under" in out.stderr


def test_refuses_a_moved_home(tmp_path):
    home = tmp_path / "moved"
    _demo_home.set_options(home / "airflow" / "airflow.cfg", _demo_home.demo_settings(tmp_path / "original", PROJECT))
    (home / "airflow" / "airflow.db").write_bytes(b"")
    out = run_cli(["airflow-mlops", "ui", "--home", str(home)])
    assert out.returncode == 1 and f"demo state of {tmp_path / 'original'}" in out.stderr


def test_the_callers_settings_cannot_override_the_home(tmp_path, monkeypatch):
    for name in OVERRIDES:
        monkeypatch.setenv(name, "/elsewhere")
    env = ui_env(tmp_path, "127.0.0.1", 8123)
    assert not set(OVERRIDES) & set(env)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["PATH"].split(os.pathsep)[0] == str(VENV_BIN)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"


def test_dev_script_routes_ui():
    text = (PROJECT / "dev").read_text()
    assert 'ui)    setup; exec .venv/bin/airflow-mlops ui "$@"' in text
    help_text = subprocess.run([str(PROJECT / "dev"), "help"], capture_output=True, text=True, check=True).stdout
    assert "./dev ui [--home DIR]" in help_text and "set -euo" not in help_text
