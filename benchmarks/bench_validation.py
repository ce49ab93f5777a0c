"""Data gate: the example suite (ride_demand, Great Expectations) vs plain vectorized pandas checks.

Both sides check the same rules of ``dags/ride_demand.yaml`` on the same generated frame (1,008,000
rows; 100,800 when quick) with 1 % out-of-range hours and 1 % nulls, and must find the same counts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "dags" / "ride_demand.yaml"
NOW = datetime(2026, 3, 2, tzinfo=UTC)
TYPES = {"int": "iu", "float": "f", "bool": "b", "datetime": "M"}


def pandas_checks(df: Any, validation: Any, now: datetime) -> dict[str, int | bool]:
    """The same rules with plain pandas: failing-row counts for row rules, pass/fail for table rules."""
    import pandas as pd

    from airflow_mlops.spec.schema import duration_seconds

    out: dict[str, int | bool] = {}
    for column, rule in validation.columns.items():
        if column not in df.columns:
            out[f"{column}:exists"] = False
        else:
            out.update(_column_checks(df, column, rule))
    if validation.row_count:
        low, high = validation.row_count.min, validation.row_count.max
        out["row_count"] = (low is None or len(df) >= low) and (high is None or len(df) <= high)
    if validation.freshness:
        newest = df[validation.freshness.column].max()
        threshold = pd.Timestamp(now) - pd.Timedelta(seconds=duration_seconds(validation.freshness.max_age))
        out["freshness"] = bool(newest >= threshold)
    return out


def _column_checks(df: Any, column: str, rule: Any) -> dict[str, int | bool]:
    """One column's rules with plain pandas."""
    import pandas as pd

    out: dict[str, int | bool] = {}
    values = df[column]
    present = values.notna()
    if rule.type == "str":
        out[f"{column}:type"] = bool(values.map(type).eq(str).where(present, True).all())
    elif rule.type:
        out[f"{column}:type"] = values.dtype.kind in TYPES[rule.type]
    if rule.not_null:
        out[f"{column}:not_null"] = int((~present).sum())
    if rule.min is not None or rule.max is not None:
        bad = pd.Series(False, index=df.index)
        if rule.min is not None:
            bad |= values.lt(rule.min)
        if rule.max is not None:
            bad |= values.gt(rule.max)
        out[f"{column}:range"] = int((bad & present).sum())
    if rule.allowed is not None:
        out[f"{column}:allowed"] = int((present & ~values.isin(rule.allowed)).sum())
    if rule.unique:
        out[f"{column}:unique"] = int((present & values.duplicated(keep=False)).sum())
    return out


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def run(quick: bool) -> list[dict]:
    from airflow_mlops.spec import load_spec
    from airflow_mlops.validation.gate import decide, validate_frame
    from airflow_mlops.validation.gx import import_gx
    from include.datagen import Defects, ride_demand

    validation = load_spec(SPEC).validation
    zones = 100 if quick else 1000
    df, _ = ride_demand(zones=zones, days=42, end=NOW, defects=Defects(bad_hour_fraction=0.01, null_fraction=0.01))
    t0 = time.perf_counter()
    import_gx()
    gx_import = time.perf_counter() - t0
    validate_frame(df.head(1000), validation, now=NOW)  # warm-up: first-use costs inside GX

    ours, (checks, result) = _best(lambda: validate_frame(df, validation, now=NOW), 2)
    base, counts = _best(lambda: pandas_checks(df, validation, NOW), 3)
    gx_counts = {f"{r.check.column}:{r.check.rule}": r.failed_rows for r in result.checks if r.check.level == "row"}
    assert all(gx_counts[k] == v for k, v in counts.items() if k in gx_counts), (gx_counts, counts)
    split_time, outcome = _best(lambda: decide(checks, result, df, validation), 1)
    rows = len(df)
    note = (
        f"{len(checks)} expectations, {outcome.bad_rows:,} bad rows found by both; "
        f"quarantine split +{split_time:.2f} s; GX import {gx_import:.1f} s (once per process)"
    )
    return [
        {
            "benchmark": "validation",
            "case": f"ride_demand suite, {rows:,} rows",
            "ours": f"{ours:.2f} s (GX 1.24)",
            "baseline": f"{base:.2f} s (pandas)",
            "ratio": base / ours,
            "note": note,
        }
    ]
