"""The data gate: validate a batch, then apply the spec's policy (``fail`` or ``quarantine``).

Shared by :class:`~airflow_mlops.operators.validate.GXValidateOperator` and ``airflow-mlops check-data``
so both print the same summary and reach the same verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlops.validation.checks import Check, Keys, checks_from_spec, min_rows
from airflow_mlops.validation.prepare import Prepared, prepare
from airflow_mlops.validation.result import CheckResult, ValidationResult

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec.schema import Validation
    from airflow_mlops.validation.rows import RowSplit

Status = Literal["passed", "quarantined", "failed"]


def validate_frame(
    df: pd.DataFrame, validation: Validation, *, now: datetime, name: str = "validation", keys: Keys | None = None
) -> tuple[list[Check], ValidationResult]:
    """Run the spec's checks on ``df`` with Great Expectations; ``now`` is the run's time (for freshness).

    An empty batch is not handed to GX: it fails its row count.
    """
    from airflow_mlops.validation.gx import runnable

    keys = keys or Keys()
    checks = checks_from_spec(validation, now, keys)
    named = {
        *keys.known,
        *keys.key_columns,
        *([keys.label] if keys.label else []),
        *(n for c in checks for n in c.columns),
    }
    checks = [with_arrival(c, df, named) for c in checks]
    checks = runnable(checks, list(df.columns))
    if not len(df):
        return checks, empty_result(checks, df, validation, now, name)
    from airflow_mlops.validation.gx import import_gx, run_suite

    import_gx()  # once per process (seconds); not part of the validation time
    gx_input, checks = fresh_without_future(df, checks)
    started = time.perf_counter()
    pairs = run_suite(gx_input, checks, name=name)
    results = [CheckResult.from_gx(check, gx_result) for check, gx_result in pairs]
    return checks, ValidationResult(name, len(df), now, results, time.perf_counter() - started)


def with_arrival(check: Check, df: pd.DataFrame, known: set[str]) -> Check:
    """An ``exists`` check that knows which columns arrived, and which of them the spec does not name."""
    if check.rule != "exists" or check.column in df.columns:
        return check
    arrived = [str(c) for c in df.columns]
    return replace(check, params={**check.params, "arrived": arrived, "new": [c for c in arrived if c not in known]})


def fresh_without_future(df: pd.DataFrame, checks: list[Check]) -> tuple[pd.DataFrame, list[Check]]:
    """Freshness measured on rows that are not in the future: a future row must not make a stale batch look fresh.

    GX reads a hidden copy of the timestamp column with future values blanked out.
    """
    from airflow_mlops.validation.rows import row_mask

    future = {c.column: c for c in checks if c.rule == "not_future"}
    out, frame = [], df
    for check in checks:
        if check.rule == "freshness" and check.column in future:
            hidden = f"__mlops_fresh_{check.column}"
            if frame is df:
                frame = df.copy(deep=False)
            frame[hidden] = df[check.column].where(~row_mask(future[check.column], df))
            check = replace(check, params={**check.params, "gx_column": hidden})
        out.append(check)
    return frame, out


def empty_result(checks: list[Check], df: pd.DataFrame, validation: Validation, now: datetime, name: str):
    """The result for a batch without rows: missing columns, and the row count that was expected."""
    results = [CheckResult(c, success=False) for c in checks if c.rule == "exists" and c.column not in df.columns]
    count = next((c for c in checks if c.rule == "row_count"), None)
    low = min_rows(validation)
    count = Check("row_count", None, {**(count.params if count else {}), "min": low})
    results.append(CheckResult(count, success=False, failed_rows=0, observed=0))
    return ValidationResult(name, 0, now, results, 0.0)


@dataclass
class GateOutcome:
    """The validation result, the policy's verdict and, when rows failed, the good/bad split."""

    result: ValidationResult
    status: Status
    reason: str
    policy: str
    max_bad_fraction: float
    split: RowSplit | None = None
    prepared: Prepared | None = None

    @property
    def frame(self) -> pd.DataFrame | None:
        """The batch as checked (nullable integers, exact duplicates dropped); None without preparation."""
        return self.prepared.frame if self.prepared is not None else None

    @property
    def duplicates_dropped(self) -> int:
        return self.prepared.duplicates_dropped if self.prepared is not None else 0

    @property
    def ok(self) -> bool:
        """True when the batch (or its good rows) may go on."""
        return self.status != "failed"

    @property
    def rows_in(self) -> int:
        """Rows that arrived (before duplicates were dropped)."""
        return self.prepared.rows_in if self.prepared is not None else self.result.rows

    @property
    def bad_rows(self) -> int:
        """Distinct rows failing at least one row-level check."""
        return len(self.split.bad) if self.split is not None else 0

    @property
    def rows_quarantined(self) -> int:
        return self.bad_rows if self.status == "quarantined" else 0

    @property
    def rows_good(self) -> int:
        return self.result.rows - self.bad_rows if self.ok else 0

    def summary(self) -> str:
        """The text shown in the task log, the task's error and the CLI output."""
        r = self.result
        head = (
            f"Validation {r.name}: {self.status.upper()} ({self.policy} policy) on {r.rows:,} rows, "
            f"{len(r.checks)} checks, {len(r.failures)} failed"
        )
        notes = self.prepared.notes() if self.prepared is not None else []
        return "\n".join([head, *(f"  - {line}" for line in [*r.lines(), *notes]), self.reason])

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "policy": self.policy,
            "max_bad_fraction": self.max_bad_fraction,
            "rows_in": self.rows_in,
            "duplicates_dropped": self.duplicates_dropped,
            "bad_rows": self.bad_rows,
            "rows_good": self.rows_good,
            "rows_quarantined": self.rows_quarantined,
            "failed_rows_per_check": dict(self.split.counts) if self.split is not None else {},
            "summary": self.summary(),
            "validation": self.result.to_dict(),
        }


def decide(checks: list[Check], result: ValidationResult, df: pd.DataFrame, validation: Validation) -> GateOutcome:
    """Apply the policy of ``validation`` to a finished ``result``."""
    from airflow_mlops.validation.rows import split_rows

    policy, limit = validation.on_failure, validation.max_bad_fraction
    verdict = {"policy": policy, "max_bad_fraction": limit}
    if result.success:
        return GateOutcome(result, "passed", f"All {len(result.checks)} checks passed.", **verdict)
    if result.table_failures:
        names = ", ".join(sorted({f"{r.check.subject} {r.check.rule}" for r in result.table_failures}))
        reason = f"Table-level check failed ({names}): the whole batch is rejected."
        return GateOutcome(result, "failed", reason, **verdict)
    split = split_rows(df, checks, result)
    bad, rows = len(split.bad), result.rows
    share = bad / rows if rows else 0.0
    if policy == "fail":
        reason = f"{bad:,} of {rows:,} rows ({share:.1%}) failed row-level checks and on_failure is fail."
        return GateOutcome(result, "failed", reason, split=split, **verdict)
    if share > limit:
        reason = f"{bad:,} of {rows:,} rows ({share:.1%}) are bad, more than max_bad_fraction {limit:.1%}."
        return GateOutcome(result, "failed", reason, split=split, **verdict)
    reason = (
        f"{bad:,} of {rows:,} rows ({share:.1%}) quarantined (max_bad_fraction {limit:.1%}); "
        f"{rows - bad:,} good rows go on."
    )
    return GateOutcome(result, "quarantined", reason, split=split, **verdict)


def run_gate(
    df: pd.DataFrame, validation: Validation, *, now: datetime, name: str = "validation", keys: Keys | None = None
) -> GateOutcome:
    """Prepare ``df``, validate it and apply the policy: the whole data gate in one call.

    ``keys`` names the entity, timestamp and label columns (duplicate keys, future rows, label checks).
    """
    keys = keys or Keys()
    prepared = prepare(df, validation, keys)
    checks, result = validate_frame(prepared.frame, validation, now=now, name=name, keys=keys)
    outcome = decide(checks, result, prepared.frame, validation)
    outcome.prepared = prepared
    return outcome
