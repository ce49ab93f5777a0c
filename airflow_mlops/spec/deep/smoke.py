"""Smoke fit (CLI only): the train task's own code on a few synthetic rows shaped like the spec.

Param combinations that only fail in ``fit`` (e.g. a solver that does not support a penalty) and
estimators that cannot take the preprocessed features (e.g. negative values after scaling) are
found here instead of hours into a run. Column kinds come from the Feast definitions, else from
``validation.columns`` types, else float.
"""

from __future__ import annotations

from typing import Any

from airflow_mlops.spec.schema import ColumnRule, ModelSpec

ROWS = 48


def _column(kind: str, rule: ColumnRule | None, rows: int, rng: Any) -> Any:
    import numpy as np
    import pandas as pd

    if rule is not None and rule.allowed:
        return [rule.allowed[i % len(rule.allowed)] for i in range(rows)]
    low = rule.min if rule is not None and rule.min is not None else 0.0
    high = rule.max if rule is not None and rule.max is not None else low + 100.0
    if kind == "int":
        return np.resize(np.arange(int(np.ceil(low)), int(np.floor(high)) + 1), rows)
    if kind == "str":
        return [f"v{i % 3}" for i in range(rows)]
    if kind == "bool":
        return [i % 2 == 0 for i in range(rows)]
    if kind == "datetime":
        return pd.date_range("2025-01-01", periods=rows, freq="D", tz="UTC")
    return rng.uniform(low, high, rows)


def synthetic_frame(spec: ModelSpec, kinds: dict[str, str], rows: int = ROWS) -> Any:
    """A training set of ``rows`` rows with the spec's entity, timestamp, features and label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    f = spec.features
    data: dict[str, Any] = {
        f.entity: np.arange(rows) % 4,
        f.timestamp: pd.date_range("2026-01-01", periods=rows, freq="h", tz="UTC"),
    }
    for name in f.feature_names:
        rule = spec.validation.columns.get(name)
        kind = kinds.get(name) or (rule.type if rule is not None and rule.type else "float")
        data[name] = _column(kind, rule, rows, rng)
    if spec.model.task == "classification":
        data[f.label] = np.arange(rows) % 2
    else:
        data[f.label] = rng.normal(10.0, 3.0, rows)
    return pd.DataFrame(data)


def smoke_fit_problem(spec: ModelSpec, kinds: dict[str, str]) -> str | None:
    """Why the train task's fit fails on synthetic rows, or None when it fits and scores."""
    import warnings

    from airflow_mlops.threads import thread_limit
    from airflow_mlops.training.fit import train

    frame = synthetic_frame(spec, kinds)
    try:
        with thread_limit(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(frame, spec)
    except Exception as exc:
        return f"{spec.training.estimator} fails to fit {ROWS} synthetic rows: {type(exc).__name__}: {exc}"
    return None
