"""What the gate does to a batch before checking it: nullable integers, and duplicate rows dropped by policy.

- A column the spec types ``int`` that arrives as float64 only because it holds nulls (Feast, parquet
  readers and CSV all do this) becomes pandas ``Int64``, so the type check passes and each null row is
  handled by ``not_null`` (quarantined one by one) instead of the type check rejecting the batch.
- Exact copies of a row (every column equal) are dropped to one and counted; with ``duplicates: drop``
  every key keeps its first row. Conflicting copies are left for the ``duplicate_key`` check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec.schema import Validation
    from airflow_mlops.validation.checks import Keys


@dataclass
class Prepared:
    """The batch as the checks see it, and what was changed on the way."""

    frame: pd.DataFrame
    rows_in: int
    duplicates_dropped: int = 0
    nullable_ints: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the frame differs from the batch that arrived."""
        return bool(self.duplicates_dropped or self.nullable_ints)

    def notes(self) -> list[str]:
        out = []
        if self.duplicates_dropped:
            out.append(f"{self.duplicates_dropped:,} duplicate rows dropped (a copy of each kept)")
        if self.nullable_ints:
            out.append(f"read as nullable integers (Int64): {', '.join(self.nullable_ints)}")
        return out


def integral_floats(values: pd.Series) -> bool:
    """True for a float column whose non-null values are all whole numbers."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_float_dtype(values):
        return False
    present = values.dropna().to_numpy(dtype="float64")
    return bool(np.all(np.isfinite(present)) and np.all(present == np.round(present)))


def nullable_ints(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with each of ``columns`` that holds whole floats as ``Int64`` (a shallow copy when changed)."""
    changed = [c for c in columns if c in frame.columns and integral_floats(frame[c])]
    if not changed:
        return frame, []
    out = frame.copy(deep=False)
    for column in changed:
        out[column] = out[column].astype("Int64")
    return out, changed


def prepare(frame: pd.DataFrame, validation: Validation, keys: Keys) -> Prepared:
    """Convert integral float columns typed ``int`` to ``Int64``, then drop duplicates as the policy says."""
    rows_in = len(frame)
    int_columns = [c for c, rule in validation.columns.items() if rule.type == "int"]
    if validation.label is not None and validation.label.type == "int" and keys.label:
        int_columns.append(keys.label)
    frame, changed = nullable_ints(frame.reset_index(drop=True), int_columns)
    key = [c for c in keys.key_columns if c in frame.columns]
    dropped = 0
    if validation.duplicates != "fail" and len(key) == 2 and len(frame):  # duplicates are judged by the key
        subset = key if validation.duplicates == "drop" else None
        try:
            repeated = frame.duplicated(subset=subset, keep="first")
        except TypeError:  # unhashable cells (lists, dicts): leave every copy to the duplicate_key check
            repeated = None
        if repeated is not None and repeated.any():
            dropped = int(repeated.sum())
            frame = frame[~repeated].reset_index(drop=True)
    return Prepared(frame=frame, rows_in=rows_in, duplicates_dropped=dropped, nullable_ints=changed)
