"""What a validation found: per column and expectation, how many rows failed and example bad values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from airflow_mlops.validation.checks import Check, number


@dataclass
class CheckResult:
    """The outcome of one check (one GX expectation)."""

    check: Check
    success: bool
    failed_rows: int | None = None
    failed_percent: float | None = None  # a percentage (0-100), as GX reports it
    examples: list[Any] = field(default_factory=list)
    observed: Any = None
    error: str | None = None

    @classmethod
    def from_gx(cls, check: Check, gx_result: Any) -> CheckResult:
        """Read a GX ``ExpectationValidationResult`` (``BASIC`` result format)."""
        result = dict(gx_result.result or {})
        examples = _distinct([v for v in result.get("partial_unexpected_list") or [] if not _is_missing(v)])
        return cls(
            check=check,
            success=bool(gx_result.success),
            failed_rows=result.get("unexpected_count"),
            failed_percent=result.get("unexpected_percent"),
            examples=examples,
            observed=result.get("observed_value"),
            error=_exception(gx_result.exception_info),
        )

    @property
    def message(self) -> str:  # noqa: C901  (one match case per check rule)
        """One line naming the column, what is wrong, an example value and the GX expectation."""
        c, p = self.check, self.check.params
        tail = f" ({c.expectation})"
        if self.error:
            return f"{c.subject}: could not be checked: {self.error}{tail}"
        if self.success:
            return f"{c.describe()}: ok{tail}"
        n, e = self.failed_rows or 0, _examples(self.examples)
        match c.rule:
            case "exists":
                return f"{c.column}: column {c.column!r} missing{_arrival(p)}{tail}"
            case "type" if self.failed_rows:
                return f"{c.column}: expected {p['type']}, {_rows(n)} of another type{e}{tail}"
            case "type":
                return f"{c.column}: expected {p['type']}, got {self.observed}{tail}"
            case "range":
                return f"{c.column}: {_rows(n)} {_outside(p.get('min'), p.get('max'))}{e}{tail}"
            case "not_null":
                return f"{c.column}: {n} null{'s' if n != 1 else ''}{tail}"
            case "allowed":
                allowed = ", ".join(map(str, p["values"]))
                return f"{c.column}: {_rows(n)} not in {{{allowed}}}{e}{tail}"
            case "unique":
                return f"{c.column}: {_rows(n)} with duplicated values{e}{tail}"
            case "row_count" if p.get("min") is not None and (self.observed or 0) < p["min"]:
                return f"table: {self.observed or 0} rows, at least {number(p['min'])} expected{tail}"
            case "row_count":
                return f"table: {self.observed} rows, expected {c.describe().removeprefix('row count ')}{tail}"
            case "duplicate_key":
                action = "the batch is rejected" if c.batch else "all copies quarantined"
                return f"{c.subject}: {_rows(n)} share a key with different values ({action}){e}{tail}"
            case "not_future":
                return (
                    f"{c.column}: {_rows(n)} in the future, after {_moment(p['limit'])} "
                    f"(now + max_clock_skew {p['skew']}){e}{tail}"
                )
            case "freshness":
                return (
                    f"{c.column}: newest value {_moment(self.observed)} is older than {p['max_age']} "
                    f"(must be at or after {_moment(p['threshold'])}){tail}"
                )
        return f"{c.describe()}: failed{tail}"  # pragma: no cover

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "column": c.column,
            "rule": c.rule,
            "expectation": c.expectation,
            "level": c.level,
            "expects": c.describe(),
            "params": jsonable(c.params),
            "success": self.success,
            "failed_rows": self.failed_rows,
            "failed_percent": self.failed_percent,
            "examples": jsonable(self.examples),
            "observed": jsonable(self.observed),
            "error": self.error,
            "message": self.message,
        }


@dataclass
class ValidationResult:
    """All checks of one validation run on one batch."""

    name: str
    rows: int
    run_time: datetime
    checks: list[CheckResult]
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(r.success for r in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.checks if not r.success]

    @property
    def table_failures(self) -> list[CheckResult]:
        """Failures that reject the whole batch (missing column, type, row count, freshness, or a GX error)."""
        return [r for r in self.failures if r.check.level == "table" or r.error]

    @property
    def row_failures(self) -> list[CheckResult]:
        """Failures of single rows (range, nulls, allowed values, uniqueness): candidates for quarantine."""
        return [r for r in self.failures if r.check.level == "row" and not r.error]

    def failed_rows(self, check: Check) -> int:
        """Rows GX counted as failing ``check`` (0 when it passed)."""
        for r in self.checks:
            if r.check is check:
                return r.failed_rows or 0
        raise KeyError(check)

    def lines(self) -> list[str]:
        """One message per failed check."""
        return [r.message for r in self.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "success": self.success,
            "rows": self.rows,
            "run_time": jsonable(self.run_time),
            "seconds": round(self.seconds, 3),
            "checks_run": len(self.checks),
            "checks_failed": len(self.failures),
            "checks": [r.to_dict() for r in self.checks],
        }


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars, timestamps and NaN turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
        return jsonable(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _exception(info: Any) -> str | None:
    """The exception message GX recorded, if any (a flat dict, or one dict per metric)."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for item in info.values():
        if isinstance(item, dict) and item.get("raised_exception"):
            return str(item.get("exception_message"))
    return None


def _is_missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value)) or bool(value != value)
    except (TypeError, ValueError):
        return False


def _distinct(values: list[Any]) -> list[Any]:
    seen, out = set(), []
    for value in values:
        key = repr(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _examples(values: list[Any], limit: int = 3) -> str:
    if not values:
        return ""
    return ", e.g. " + ", ".join(_value(v) for v in values[:limit])


def _arrival(params: dict[str, Any]) -> str:
    """``; arrived: a, b; new: 'temp_c'`` from the columns a batch arrived with (when known)."""
    if "arrived" not in params:
        return ""
    text = f"; arrived: {', '.join(params['arrived']) or 'no columns'}"
    return text + (f"; new: {', '.join(map(repr, params['new']))}" if params.get("new") else "")


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + ")"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, float):
        return number(value)
    return str(value)


def _moment(value: Any) -> str:
    """A timestamp as ``2026-10-01`` at midnight, else ``2026-10-01 08:00``."""
    if isinstance(value, datetime) and value != value:  # NaT
        return "none (no values)"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if value.hour == value.minute == value.second == 0 else f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _outside(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"outside [{number(low)}, {number(high)}]"
    return f"below {number(low)}" if low is not None else f"above {number(high)}"
