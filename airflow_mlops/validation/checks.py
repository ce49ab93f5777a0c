"""The spec's ``validation`` block as a flat list of checks, one per Great Expectations expectation.

A :class:`Check` is the single description both back ends read: :mod:`.gx` turns it into a GX
expectation, :mod:`.rows` into a vectorized pandas mask, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow_mlops.spec.schema import ColumnRule, Validation, duration_seconds

Rule = Literal[
    "exists", "type", "range", "not_null", "allowed", "unique", "row_count", "freshness", "duplicate_key", "not_future"
]

#: Rules whose failures are individual rows (quarantinable); every other rule rejects the whole batch.
ROW_RULES: frozenset[str] = frozenset({"range", "not_null", "allowed", "unique", "duplicate_key", "not_future"})

EXPECTATIONS: dict[str, str] = {
    "exists": "expect_column_to_exist",
    "type": "expect_column_values_to_be_in_type_list",
    "range": "expect_column_values_to_be_between",
    "not_null": "expect_column_values_to_not_be_null",
    "allowed": "expect_column_values_to_be_in_set",
    "unique": "expect_column_values_to_be_unique",
    "row_count": "expect_table_row_count_to_be_between",
    "freshness": "expect_column_max_to_be_between",
    "duplicate_key": "expect_compound_columns_to_be_unique",
    "not_future": "expect_column_values_to_be_between",
}


@dataclass(frozen=True)
class Check:
    """One rule on one column (or on the table when ``column`` is None)."""

    rule: Rule
    column: str | None
    params: dict[str, Any] = field(default_factory=dict)
    batch: bool = False  # a row-level rule whose failure rejects the whole batch (e.g. ``duplicates: fail``)

    @property
    def level(self) -> Literal["row", "table"]:
        """``row`` when single rows can fail it (quarantinable), ``table`` when the batch fails as a whole."""
        return "row" if self.rule in ROW_RULES and not self.batch else "table"

    @property
    def expectation(self) -> str:
        """Name of the Great Expectations expectation that runs this check."""
        return EXPECTATIONS[self.rule]

    @property
    def subject(self) -> str:
        if self.rule == "duplicate_key":
            return f"({', '.join(self.params['columns'])})"
        return self.column or "table"

    @property
    def columns(self) -> list[str]:
        """The columns the check reads (none for table checks)."""
        if self.rule == "duplicate_key":
            return list(self.params["columns"])
        return [self.column] if self.column else []

    def describe(self) -> str:
        """What the check expects, in words (e.g. ``hour in [0, 23]``)."""
        p = self.params
        match self.rule:
            case "exists":
                return f"column {self.column} exists"
            case "type":
                return f"{self.column} has type {p['type']}"
            case "range":
                return f"{self.column} {bounds_text(p.get('min'), p.get('max'))}"
            case "not_null":
                return f"{self.column} is never null"
            case "allowed":
                return f"{self.column} in {{{', '.join(map(str, p['values']))}}}"
            case "unique":
                return f"{self.column} values are unique"
            case "row_count":
                return f"row count {bounds_text(p.get('min'), p.get('max'))}"
            case "freshness":
                since = f"{p['threshold']:%Y-%m-%d %H:%M}"
                return f"newest {self.column} is at most {p['max_age']} old (not before {since})"
            case "duplicate_key":
                return f"{self.subject} identifies one row"
            case "not_future":
                return f"{self.column} at most {p['skew']} in the future (not after {p['limit']:%Y-%m-%d %H:%M})"
        raise ValueError(self.rule)  # pragma: no cover


def bounds_text(low: float | None, high: float | None) -> str:
    """``in [0, 23]``, ``>= 0`` or ``<= 55``."""
    if low is not None and high is not None:
        return f"in [{number(low)}, {number(high)}]"
    return f">= {number(low)}" if low is not None else f"<= {number(high)}"


def number(value: float | None) -> str:
    """``23`` rather than ``23.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without a time zone (naive values are taken as UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def column_checks(column: str, rule: ColumnRule) -> list[Check]:
    """The checks of one column rule."""
    checks = [Check("exists", column)]
    if rule.type:
        checks.append(Check("type", column, {"type": rule.type}))
    if rule.not_null:
        checks.append(Check("not_null", column))
    if rule.min is not None or rule.max is not None:
        checks.append(Check("range", column, {"min": rule.min, "max": rule.max}))
    if rule.allowed is not None:
        checks.append(Check("allowed", column, {"values": list(rule.allowed)}))
    if rule.unique:
        checks.append(Check("unique", column))
    return checks


@dataclass(frozen=True)
class Keys:
    """What the gate knows of the dataset beyond the validation block: its key, its label, its purpose."""

    entity: str | None = None
    timestamp: str | None = None
    label: str | None = None
    purpose: Literal["train", "score"] = "train"
    known: tuple[str, ...] = ()  # every column the spec names (features too): the rest of a batch is "new"

    @property
    def key_columns(self) -> list[str]:
        return [c for c in (self.entity, self.timestamp) if c]


def checks_from_spec(validation: Validation, now: datetime, keys: Keys | None = None) -> list[Check]:
    """Every check of the spec's validation block; ``now`` is the run's time (freshness, future rows).

    With ``keys``: duplicate (entity, timestamp) keys, future timestamps and, for training, the label
    (always present and not null, plus ``validation.label``). Scoring data has no label: a rule on it in
    ``validation.columns`` is skipped there.
    """
    keys = keys or Keys()
    checks: list[Check] = []
    for column, rule in validation.columns.items():
        if keys.purpose == "score" and column == keys.label:
            continue
        checks.extend(column_checks(column, rule))
    if keys.purpose == "train" and keys.label:
        rule = (validation.label or ColumnRule()).model_copy(update={"not_null": True})
        checks.extend(c for c in column_checks(keys.label, rule) if c not in checks)
    if len(keys.key_columns) == 2:
        checks.append(
            Check("duplicate_key", None, {"columns": keys.key_columns}, batch=validation.duplicates == "fail")
        )
    if keys.timestamp:
        limit = future_limit(validation, now)
        checks.append(Check("not_future", keys.timestamp, {"limit": limit, "skew": validation.max_clock_skew}))
    if validation.row_count and (validation.row_count.min is not None or validation.row_count.max is not None):
        checks.append(Check("row_count", None, {"min": validation.row_count.min, "max": validation.row_count.max}))
    if validation.freshness:
        fresh = validation.freshness
        if fresh.column not in validation.columns:
            checks.append(Check("exists", fresh.column))
        threshold = utc_naive(now) - timedelta(seconds=duration_seconds(fresh.max_age))
        checks.append(Check("freshness", fresh.column, {"max_age": fresh.max_age, "threshold": threshold}))
    return checks


def future_limit(validation: Validation, now: datetime) -> datetime:
    """Latest believable timestamp (naive UTC): the later of run time and wall clock, plus ``max_clock_skew``.

    A row after the run's time but before the wall clock is late data of a backfill, not a defect.
    """
    latest = max(utc_naive(now), utc_naive(datetime.now(UTC)))
    return latest + timedelta(seconds=duration_seconds(validation.max_clock_skew))


def min_rows(validation: Validation) -> int:
    """Fewest rows a batch may have: ``row_count.min``, at least 1."""
    low = validation.row_count.min if validation.row_count else None
    return max(low or 0, 1)
