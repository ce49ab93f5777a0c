"""What a rule can name: the attributes of a model version (a *candidate*) and their types.

A condition (GIVEN / WHEN / quality rule) sees one candidate's attributes as names; a selection rule
(MODEL_SELECTION) sees two candidates, ``a`` and ``b``, and compares them: ``a.metrics["mae"] < b.metrics["mae"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_mlops.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS

NUM, STR, BOOL = "number", "string", "boolean"


@dataclass(frozen=True)
class MapType:
    """A string-keyed mapping, e.g. ``metrics`` (metric name → number)."""

    name: str
    value: object  # a type name or another MapType
    known_keys: frozenset[str] | None = None  # keys checked at validation time when set
    missing_default: object | None = None  # value of a missing key (None: a missing key is an error)


@dataclass(frozen=True)
class RecordType:
    """A fixed set of named fields, e.g. a candidate."""

    name: str
    fields: dict


METRICS = MapType("metrics", NUM, known_keys=frozenset(REGRESSION_METRICS + CLASSIFICATION_METRICS))
SLICES = MapType("slices", MapType("slice column", MapType("slice value", METRICS.value, METRICS.known_keys)))
TAGS = MapType("tags", STR, missing_default="")

CANDIDATE_FIELDS: dict[str, object] = {
    "model_name": STR,
    "model_domain": STR,
    "model_team": STR,
    "team": STR,
    "model_task": STR,
    "environment": STR,
    "role": STR,
    "version": NUM,
    "created_time": NUM,
    "age_days": NUM,
    "is_champion": BOOL,
    "metrics": METRICS,
    "slices": SLICES,
    "tags": TAGS,
}
"""Candidate attributes. ``created_time`` is seconds since the epoch (UTC); ``age_days`` is days since then;
``role`` is ``challenger`` (this run's model), ``champion`` or ``registered``; ``team`` = ``model_team``;
``slices["zone_type"]["airport"]["mae"]`` is a slice metric; a missing tag reads as ``""``."""

CANDIDATE = RecordType("candidate", CANDIDATE_FIELDS)
CONDITION_SCOPE: dict[str, object] = dict(CANDIDATE_FIELDS)
SELECTION_SCOPE: dict[str, object] = {"a": CANDIDATE, "b": CANDIDATE}


def describe(t: object) -> str:
    """Human name of a type."""
    if isinstance(t, MapType):
        return f'{t.name} (use ["key"])'
    if isinstance(t, RecordType):
        return t.name
    if isinstance(t, tuple) and t and t[0] == "list":
        return f"list of {t[1]}" if t[1] else "empty list"
    return str(t)
