"""The spec's ``validation`` block as a flat list of checks, one per Great Expectations expectation.

A :class:`Check` is the single description both back ends read: :mod:`.gx` turns it into a GX
expectation, :mod:`.rows` into a vectorized pandas mask, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow_mlops.spec.schema import Validation, duration_seconds

Rule = Literal["exists", "type", "range", "not_null", "allowed", "unique", "row_count", "freshness"]

#: Rules whose failures are individual rows (quarantinable); every other rule rejects the whole batch.
ROW_RULES: frozenset[str] = frozenset({"range", "not_null", "allowed", "unique"})

EXPECTATIONS: dict[str, str] = {
    "exists": "expect_column_to_exist",
    "type": "expect_column_values_to_be_in_type_list",
    "range": "expect_column_values_to_be_between",
    "not_null": "expect_column_values_to_not_be_null",
    "allowed": "expect_column_values_to_be_in_set",
    "unique": "expect_column_values_to_be_unique",
    "row_count": "expect_table_row_count_to_be_between",
    "freshness": "expect_column_max_to_be_between",
}


@dataclass(frozen=True)
class Check:
    """One rule on one column (or on the table when ``column`` is None)."""

    rule: Rule
    column: str | None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> Literal["row", "table"]:
        """``row`` when single rows can fail it (quarantinable), ``table`` when the batch fails as a whole."""
        return "row" if self.rule in ROW_RULES else "table"

    @property
    def expectation(self) -> str:
        """Name of the Great Expectations expectation that runs this check."""
        return EXPECTATIONS[self.rule]

    @property
    def subject(self) -> str:
        return self.column or "table"

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


def checks_from_spec(validation: Validation, now: datetime) -> list[Check]:
    """Every check of the spec's validation block; ``now`` is the run's time, for freshness."""
    checks: list[Check] = []
    for column, rule in validation.columns.items():
        checks.append(Check("exists", column))
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
    if validation.row_count and (validation.row_count.min is not None or validation.row_count.max is not None):
        checks.append(Check("row_count", None, {"min": validation.row_count.min, "max": validation.row_count.max}))
    if validation.freshness:
        fresh = validation.freshness
        if fresh.column not in validation.columns:
            checks.append(Check("exists", fresh.column))
        threshold = utc_naive(now) - timedelta(seconds=duration_seconds(fresh.max_age))
        checks.append(Check("freshness", fresh.column, {"max_age": fresh.max_age, "threshold": threshold}))
    return checks
