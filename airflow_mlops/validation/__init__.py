"""Data gate: the spec's ``validation`` block as a Great Expectations suite, its result, and quarantine.

Light on import: pandas and great_expectations are imported inside the functions that need them.

- :mod:`.checks`: spec → a flat list of :class:`~.checks.Check` (one per GX expectation).
- :mod:`.gx`: checks → GX expectation suite, run on a DataFrame with an ephemeral context.
- :mod:`.result`: what failed, per column and expectation, with example bad values.
- :mod:`.rows`: row-level checks as vectorized masks; split good rows from quarantined ones.
- :mod:`.gate`: the policy (pass, quarantine, fail) shared by the operator and ``check-data``.
- :mod:`.report`: the result as JSON and as one self-contained HTML page.
"""

from airflow_mlops.validation.checks import Check, Keys, checks_from_spec
from airflow_mlops.validation.gate import GateOutcome, run_gate
from airflow_mlops.validation.result import CheckResult, ValidationResult

__all__ = ["Check", "CheckResult", "GateOutcome", "Keys", "ValidationResult", "checks_from_spec", "run_gate"]
