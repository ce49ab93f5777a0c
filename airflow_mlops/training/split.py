"""Time-ordered split: the holdout (the *fresh window*) is the most recent fraction of rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops.validation.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Window:
    """Bounds of the fresh window: rows with ``by >= start`` (and ``<= end``)."""

    by: str
    start: str
    end: str
    rows: int
    train_rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "start": self.start, "end": self.end, "rows": self.rows, "train_rows": self.train_rows}


def fresh_window_split(frame: pd.DataFrame, by: str, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame, Window]:
    """Split ``frame`` into (older rows, most recent ``fraction`` of rows by ``by``).

    The cut is a value of ``by``: all rows sharing the cut value go to the holdout, so no timestamp is
    split between the two sides. Both sides must keep at least one row.
    """
    if by not in frame.columns:
        raise DataError(f"training.holdout.by: column {by!r} is not in the training set")
    if len(frame) < 2:
        raise DataError(f"the training set has {len(frame)} rows; need at least 2 to hold out a fresh window")
    ordered = frame.sort_values(by, kind="stable").reset_index(drop=True)
    cut_index = min(max(round(len(ordered) * (1 - fraction)), 1), len(ordered) - 1)
    cut = ordered[by].iloc[cut_index]
    fresh_mask = ordered[by] >= cut
    if fresh_mask.all():  # every row shares the first value: fall back to a positional cut
        fresh_mask = ordered.index >= cut_index
    train, fresh = ordered[~fresh_mask], ordered[fresh_mask]
    window = Window(by=by, start=str(fresh[by].min()), end=str(fresh[by].max()), rows=len(fresh), train_rows=len(train))
    return train.reset_index(drop=True), fresh.reset_index(drop=True), window
