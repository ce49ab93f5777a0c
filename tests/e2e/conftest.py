"""Session-scoped real stack for the end-to-end tests (see stack.py); prints Airflow's log tail on failure."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from .stack import Stack, running_stack, tail

_STACK: list[Stack] = []


@pytest.fixture(scope="session")
def stack() -> Stack:
    root = Path(tempfile.mkdtemp(prefix="mlops-e2e-"))
    try:
        with running_stack(root) as running:
            _STACK.append(running)
            yield running
    finally:
        _STACK.clear()
        shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _STACK:
        running = _STACK[0]
        report.sections.append(("airflow standalone log (tail)", tail(running.log, 80)))
        for log in sorted(running.airflow_home.glob("logs/dag_processor/**/*.log"))[-2:]:
            report.sections.append((f"dag processor log {log.name} (tail)", tail(log, 30)))
    return report
