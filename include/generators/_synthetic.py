"""Synthetic feature and label tables from a model's declared columns (used by the scaffolded generators).

The label depends on every feature (a seeded random linear effect per numeric feature and per category),
so a model trained on the features beats a constant guess. The feature table also carries ``created``
(ingestion time, equal to the event time here): the Feast source declares it so that, when a row is
corrected upstream, the copy created last wins a tie on (entity, event time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

CREATED = "created"
CATEGORIES = 3  # values of a str feature: <column>_0, <column>_1, <column>_2


@dataclass(frozen=True)
class Column:
    """A declared column: its name and type (``int``, ``float``, ``str`` or ``bool``)."""

    name: str
    type: str


def _values(column: Column, rng: np.random.Generator, rows: int, drift: bool) -> np.ndarray:
    if column.type == "int":
        return rng.integers(0, 100, rows).astype("int64") + (30 if drift else 0)
    if column.type == "float":
        return rng.normal(60.0 if drift else 50.0, 10.0, rows).round(3)
    if column.type == "bool":
        return rng.random(rows) < (0.8 if drift else 0.5)
    if column.type == "str":
        weights = [0.6, 0.3, 0.1] if drift else [1 / 3] * 3
        return np.array([f"{column.name}_{i}" for i in range(CATEGORIES)], dtype=object)[
            rng.choice(CATEGORIES, rows, p=weights)
        ]
    raise ValueError(f"column {column.name!r}: type {column.type!r} is not int, float, str or bool")


def _signal(features: pd.DataFrame, columns: list[Column], rng: np.random.Generator) -> np.ndarray:
    """A standardized linear mix of every feature (the drift-free world's weights, fixed by the seed)."""
    total = np.zeros(len(features))
    for column in columns:
        values = features[column.name]
        if column.type == "str":
            effect = dict(
                zip([f"{column.name}_{i}" for i in range(CATEGORIES)], rng.normal(0, 1, CATEGORIES), strict=True)
            )
            total += values.map(effect).to_numpy(dtype=float)
        else:
            numeric = values.to_numpy(dtype=float)
            scaled = (numeric - numeric.mean()) / (numeric.std() or 1.0)
            total += rng.normal(0, 1) * scaled
    return total / max(1.0, np.sqrt(len(columns)))


def tables(
    *,
    entity: Column,
    timestamp: str,
    features: list[Column],
    label: str,
    task: str,
    days: int = 28,
    entities: int = 20,
    seed: int = 1,
    end: datetime | None = None,
    drift: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, labels)``: one row per entity and hour over ``days`` up to ``end`` (default: now)."""
    if days < 1 or entities < 1:
        raise ValueError("days and entities must be at least 1")
    rng = np.random.default_rng(seed)
    stop = pd.Timestamp(end or datetime.now(UTC)).tz_convert("UTC").floor("h")
    hours = pd.date_range(end=stop, periods=days * 24, freq="h", tz="UTC")
    keys = np.arange(1, entities + 1)
    if entity.type == "str":
        keys = np.array([f"{entity.name}_{k}" for k in keys], dtype=object)
    grid = pd.MultiIndex.from_product([keys, hours], names=[entity.name, timestamp]).to_frame(index=False)
    frame = grid.copy()
    for column in features:
        frame[column.name] = _values(column, rng, len(frame), drift)
    frame[CREATED] = frame[timestamp]
    signal = _signal(frame, features, np.random.default_rng(seed + 1))
    if task == "regression":
        target = (100 + 20 * signal + rng.normal(0, 5, len(frame))).round(3)
    elif task == "classification":
        target = (rng.random(len(frame)) < 1 / (1 + np.exp(-2 * signal))).astype("int64")
    else:
        raise ValueError(f"task {task!r}: expected regression or classification")
    labels = grid.assign(**{label: target})
    return frame, labels


def write(out_dir: str | Path, model: str, frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Path]:
    """Write ``<model>.parquet`` (the Feast source) and ``<model>_labels.parquet``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {f"{model}_features": out / f"{model}.parquet", f"{model}_labels": out / f"{model}_labels.parquet"}
    for path, frame in zip(paths.values(), frames, strict=True):
        frame.to_parquet(path, index=False)
    return paths
