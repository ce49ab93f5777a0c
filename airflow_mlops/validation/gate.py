"""The data gate: validate a batch, then apply the spec's policy (``fail`` or ``quarantine``).

Shared by :class:`~airflow_mlops.operators.validate.GXValidateOperator` and ``airflow-mlops check-data``
so both print the same summary and reach the same verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlops.validation.checks import Check, checks_from_spec
from airflow_mlops.validation.result import CheckResult, ValidationResult

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec.schema import Validation
    from airflow_mlops.validation.rows import RowSplit

Status = Literal["passed", "quarantined", "failed"]


def validate_frame(
    df: pd.DataFrame, validation: Validation, *, now: datetime, name: str = "validation"
) -> tuple[list[Check], ValidationResult]:
    """Run the spec's checks on ``df`` with Great Expectations; ``now`` is the run's time (for freshness)."""
    from airflow_mlops.validation.gx import import_gx, run_suite, runnable

    import_gx()  # once per process (seconds); not part of the validation time
    checks = runnable(checks_from_spec(validation, now), list(df.columns))
    started = time.perf_counter()
    pairs = run_suite(df, checks, name=name)
    results = [CheckResult.from_gx(check, gx_result) for check, gx_result in pairs]
    return checks, ValidationResult(name, len(df), now, results, time.perf_counter() - started)


@dataclass
class GateOutcome:
    """The validation result, the policy's verdict and, when rows failed, the good/bad split."""

    result: ValidationResult
    status: Status
    reason: str
    policy: str
    max_bad_fraction: float
    split: RowSplit | None = None

    @property
    def ok(self) -> bool:
        """True when the batch (or its good rows) may go on."""
        return self.status != "failed"

    @property
    def rows_in(self) -> int:
        return self.result.rows

    @property
    def bad_rows(self) -> int:
        """Distinct rows failing at least one row-level check."""
        return len(self.split.bad) if self.split is not None else 0

    @property
    def rows_quarantined(self) -> int:
        return self.bad_rows if self.status == "quarantined" else 0

    @property
    def rows_good(self) -> int:
        return self.rows_in - self.bad_rows if self.ok else 0

    def summary(self) -> str:
        """The text shown in the task log, the task's error and the CLI output."""
        r = self.result
        head = (
            f"Validation {r.name}: {self.status.upper()} ({self.policy} policy) on {r.rows:,} rows, "
            f"{len(r.checks)} checks, {len(r.failures)} failed"
        )
        return "\n".join([head, *(f"  - {line}" for line in r.lines()), self.reason])

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "policy": self.policy,
            "max_bad_fraction": self.max_bad_fraction,
            "rows_in": self.rows_in,
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


def run_gate(df: pd.DataFrame, validation: Validation, *, now: datetime, name: str = "validation") -> GateOutcome:
    """Validate ``df`` and apply the policy: the whole data gate in one call."""
    frame = df.reset_index(drop=True)
    checks, result = validate_frame(frame, validation, now=now, name=name)
    return decide(checks, result, frame, validation)
