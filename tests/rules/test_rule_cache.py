"""The compiled-rule cache: DAG parsing skips lark for rules that compiled before, and nothing else changes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from airflow_mlops.rules import RuleError, cache, check_condition, check_selection, evaluate_condition


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "mlops"))
    monkeypatch.delenv(cache.DISABLE_ENV, raising=False)
    cache.clear()
    yield tmp_path / "mlops"
    cache.clear()


def _markers(home):
    folder = home / "cache" / "rules"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_valid_rules_leave_one_marker_each(home):
    check_condition('metrics["mae"] <= 5')
    check_condition('metrics["mae"] <= 5')
    check_selection("a.created_time > b.created_time")
    assert len(_markers(home)) == 2
    assert cache.known_valid("condition", 'metrics["mae"] <= 5')
    assert not cache.known_valid("selection", 'metrics["mae"] <= 5')  # the kind is part of the key


@pytest.mark.parametrize("text", ["metrics.mae <=", "nosuchname > 1", 'metrics["mae"] + "x" > 1', "a.version > 1"])
def test_invalid_rules_never_leave_a_marker_and_always_raise(home, text):
    for _ in range(2):
        with pytest.raises(RuleError):
            check_condition(text)
    assert _markers(home) == []


def test_a_planted_marker_passes_the_check_but_never_runs_the_rule(home):
    bad = "metrics.mae <= "
    check_condition("true")  # creates the folder through the cache itself
    marker = cache._marker("condition", bad)
    marker.touch()
    check_condition(bad)  # parse-time check skipped: the documented, bounded effect of tampering
    with pytest.raises(RuleError):
        evaluate_condition(bad, {"metrics": {"mae": 1.0}})  # evaluation always compiles


def test_markers_are_keyed_by_the_language_version(home, monkeypatch):
    check_condition("true")
    assert cache.known_valid("condition", "true")
    monkeypatch.setattr(cache, "language_version", lambda: "another grammar")
    assert not cache.known_valid("condition", "true")


def test_language_version_hashes_the_rule_sources():
    version = cache.language_version()
    assert len(version) == 64 and version == cache.language_version()


def test_an_unusable_home_or_the_switch_turns_the_cache_off(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(blocker / "mlops"))
    cache.clear()
    try:
        check_condition('metrics["mae"] <= 5')
        with pytest.raises(RuleError):
            check_condition("metrics.mae <=")
        assert not cache.known_valid("condition", 'metrics["mae"] <= 5')
        monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "mlops"))
        monkeypatch.setenv(cache.DISABLE_ENV, "0")
        cache.clear()
        check_condition('metrics["mae"] <= 5')
        assert not (tmp_path / "mlops" / "cache").exists()
    finally:
        cache.clear()


def test_a_second_process_checks_a_known_rule_without_importing_lark(tmp_path):
    code = """
import sys
from airflow_mlops.rules import check_condition, check_selection
check_condition('metrics["mae"] <= 5 and model_team == "x"')
check_selection("a.created_time > b.created_time")
print("LARK=" + str("lark" in sys.modules))
"""
    env = {**os.environ, "AIRFLOW_MLOPS_HOME": str(tmp_path / "mlops")}
    env.pop(cache.DISABLE_ENV, None)
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert "LARK=True" in runs[0].stdout
    assert "LARK=False" in runs[1].stdout
