"""Checks across sections of a valid spec that would otherwise fail a run: columns, schedules, DAG tags.

Cheap and import-free, so they run whenever a spec loads (CLI and DAG parse alike) and report as
``(location, message)`` pairs, like :mod:`airflow_mlops.spec.policy`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from airflow_mlops.spec.schedule import NON_CRON_PRESETS
from airflow_mlops.spec.schema import ModelSpec

Finding = tuple[tuple[Any, ...], str]
TAG_MAX_LEN = 100  # airflow.sdk.definitions.dag.TAG_MAX_LEN: a longer tag fails the DAG at parse time


def known_columns(spec: ModelSpec) -> list[str]:
    """Columns of a training set: the features, the entity key, the timestamp and the label."""
    f = spec.features
    return list(dict.fromkeys([*f.feature_names, f.entity, f.timestamp, f.label]))


def _unknown(column: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(column, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{column!r} is not {what}{hint} (known: {', '.join(known)})"


def column_findings(spec: ModelSpec) -> Iterator[Finding]:
    """Slices, holdout, validation and categorical columns the training set will not have."""
    known = known_columns(spec)
    features = spec.features.feature_names
    what = "a feature, the entity, the timestamp or the label"
    t, v = spec.training, spec.validation
    for i, column in enumerate(t.slices):
        if column not in known:
            yield ("training", "slices", i), _unknown(column, known, what)
    if t.holdout.by not in known:
        yield ("training", "holdout", "by"), _unknown(t.holdout.by, known, what)
    for i, column in enumerate(t.categorical):
        if column not in features:
            yield ("training", "categorical", i), _unknown(column, features, "a feature")
    for column in v.columns:
        if column not in known:
            yield ("validation", "columns", column), _unknown(column, known, what)
    if v.freshness is not None and v.freshness.column not in known:
        yield ("validation", "freshness", "column"), _unknown(v.freshness.column, known, what)


def feature_findings(spec: ModelSpec) -> Iterator[Finding]:
    """Two refs yielding one column name, or a feature named like the entity, timestamp or label."""
    f = spec.features
    seen: dict[str, str] = {}
    for i, ref in enumerate(f.refs):
        name = ref.split(":", 1)[1]
        if name in seen:
            yield ("features", "refs", i), f"{ref!r} and {seen[name]!r} both give column {name!r}"
        seen.setdefault(name, ref)
        for role in ("entity", "timestamp", "label"):
            if name == getattr(f, role):
                yield ("features", "refs", i), f"feature {name!r} has the name of features.{role}"


def schedule_findings(spec: ModelSpec) -> Iterator[Finding]:
    """A train preset that cannot be combined with the new-data asset (it needs a cron timetable)."""
    retrain_on = spec.monitoring.retrain_on
    train = spec.schedule.train
    if train in NON_CRON_PRESETS and "schedule" in retrain_on and "new_data" in retrain_on:
        yield (
            ("schedule", "train"),
            f"{train} cannot be combined with retraining on new_data (monitoring.retrain_on); use a cron "
            "expression or preset such as @weekly",
        )


def tag_findings(spec: ModelSpec) -> Iterator[Finding]:
    """Fields that become Airflow DAG tags and are longer than Airflow allows."""
    m = spec.model
    named = [(("model", "team"), m.team), (("model", "domain"), m.domain)]
    named += [(("model", "tags", i), tag) for i, tag in enumerate(m.tags)]
    for loc, text in named:
        if len(text) > TAG_MAX_LEN:
            yield loc, f"becomes a DAG tag, and Airflow refuses tags longer than {TAG_MAX_LEN} characters"


def consistency_findings(spec: ModelSpec) -> list[Finding]:
    """Every cross-section finding of a validated spec."""
    return [*column_findings(spec), *feature_findings(spec), *schedule_findings(spec), *tag_findings(spec)]
