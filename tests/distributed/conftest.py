"""Session-scoped distributed stack (cluster.py); a failing test gets every service's log tail."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .cluster import Cluster, running_cluster
from .dags import EXTRA_DAGS

_CLUSTER: list[Cluster] = []


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="mlops-dist-"))
    try:
        with running_cluster(root, EXTRA_DAGS) as running:
            _CLUSTER.append(running)
            print(f"\ndistributed stack up in {running.startup_seconds:.1f} s")
            yield running
    finally:
        _CLUSTER.clear()
        if os.environ.get("MLOPS_DIST_KEEP"):  # keep every service's log and the workers' folders to read
            print(f"\ndistributed stack folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _CLUSTER:
        report.sections.append(("distributed stack logs (tails)", _CLUSTER[0].tails(40)))
    return report
