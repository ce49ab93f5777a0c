"""Names of the data gate's report files (datasets are written by :mod:`airflow_mlops.datasets`)."""

from __future__ import annotations

import re
from datetime import datetime


def report_stem(purpose: str, run_time: datetime, digest: str, run_id: str | None = None) -> str:
    """File stem of a validation report: purpose, run time, run id (if any) and the input's digest prefix."""
    parts = [purpose, f"{run_time:%Y%m%dT%H%M%S}"]
    if run_id:
        parts.append(re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:60])
    parts.append(digest[:12])
    return "-".join(parts)
