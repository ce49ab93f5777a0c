"""Row-level checks as vectorized pandas masks, and the split of a batch into good and quarantined rows.

The masks follow GX's semantics (nulls are not range, set or uniqueness failures; every copy of a
duplicated value fails uniqueness), and :func:`split_rows` verifies their counts against the GX result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_mlops.validation.checks import Check, number

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.validation.result import ValidationResult

REASON_COLUMN = "quarantine_reason"


def row_mask(check: Check, df: pd.DataFrame) -> pd.Series:
    """True for each row that fails a row-level ``check`` (a plain bool Series, never <NA>)."""
    return _mask(check, df).fillna(False).astype(bool)


def _mask(check: Check, df: pd.DataFrame) -> pd.Series:
    import pandas as pd

    if check.rule == "duplicate_key":
        keys = df[check.params["columns"]]
        return keys.notna().any(axis=1) & keys.duplicated(keep=False)
    values = df[check.column]
    present = values.notna()
    p = check.params
    match check.rule:
        case "not_null":
            return ~present
        case "range":
            bad = pd.Series(False, index=df.index)
            if p.get("min") is not None:
                bad |= values.lt(p["min"])
            if p.get("max") is not None:
                bad |= values.gt(p["max"])
            return present & bad
        case "allowed":
            return present & ~values.isin(p["values"])
        case "unique":
            return present & values.duplicated(keep=False)
        case "not_future":
            return present & _naive(values).gt(p["limit"])
    raise ValueError(f"{check.rule} is not a row-level rule")


def reason(check: Check, df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """Why each failing row failed ``check``, e.g. ``hour=77 outside [0, 23]``."""
    import pandas as pd

    column, p = check.column, check.params
    if check.rule == "duplicate_key":
        keys = df.loc[mask, p["columns"]].astype(str)
        text = keys.apply(lambda row: ", ".join(f"{k}={v}" for k, v in row.items()), axis=1)
        return "duplicate key (" + text + ") with different values"
    shown = df.loc[mask, column].astype(str)
    match check.rule:
        case "not_null":
            return pd.Series(f"{column} is null", index=shown.index)
        case "range":
            low, high = p.get("min"), p.get("max")
            bounds = f"[{number(low) if low is not None else '-inf'}, {number(high) if high is not None else 'inf'}]"
            return f"{column}=" + shown + f" outside {bounds}"
        case "allowed":
            return f"{column}=" + shown + " not allowed"
        case "unique":
            return f"{column}=" + shown + " duplicated"
        case "not_future":
            return f"{column}=" + shown + f" in the future (after {p['limit']:%Y-%m-%d %H:%M}, now + {p['skew']})"
    raise ValueError(f"{check.rule} is not a row-level rule")


def _naive(values: pd.Series) -> pd.Series:
    """Datetimes as naive UTC, as GX compares them (see :func:`.gx.gx_frame`)."""
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


@dataclass
class RowSplit:
    """A batch split into rows that pass every row-level check and rows that fail one or more."""

    good: pd.DataFrame
    bad: pd.DataFrame  # the failing rows plus a ``quarantine_reason`` column
    counts: dict[str, int]  # failing rows per check, keyed ``column:rule``

    @property
    def rows_in(self) -> int:
        return len(self.good) + len(self.bad)


def split_rows(df: pd.DataFrame, checks: list[Check], result: ValidationResult | None = None) -> RowSplit:
    """Split ``df`` by the row-level ``checks``; with ``result``, each mask must count what GX counted."""
    import pandas as pd

    frame = df.reset_index(drop=True)
    any_bad = pd.Series(False, index=frame.index)
    reasons: list[pd.Series] = []
    counts: dict[str, int] = {}
    for check in checks:
        if check.level != "row" or not set(check.columns) <= set(frame.columns):
            continue
        mask = row_mask(check, frame)
        failed = int(mask.sum())
        counts[f"{check.column}:{check.rule}"] = failed
        if result is not None and failed != result.failed_rows(check):
            raise RuntimeError(
                f"{check.column}: {check.rule} mask counts {failed} rows but GX counted "
                f"{result.failed_rows(check)}; refusing to quarantine rows that do not match the report"
            )
        if failed:
            any_bad |= mask
            reasons.append(reason(check, frame, mask))
    bad = frame[any_bad].copy()
    if reasons:
        joined = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
        bad[REASON_COLUMN] = joined.reindex(bad.index).astype(str)
    else:
        bad[REASON_COLUMN] = pd.Series(dtype=str)
    good = frame[~any_bad]
    assert len(good) + len(bad) == len(frame), "rows lost while splitting"
    return RowSplit(good=good, bad=bad, counts=counts)
