"""Errors that mean "the data is wrong", as opposed to "the infrastructure failed".

Operators turn a :class:`DataError` into ``AirflowFailException`` (no retry: the same data fails the same
way); any other exception keeps Airflow's retries.
"""

from __future__ import annotations


class DataError(ValueError):
    """The input data cannot be used as it is; the message names the defect and its count."""


def missing_columns_message(what: str, missing: list[str], arrived: list[str], expected: list[str]) -> str:
    """``<what>: column 'temperature' missing; arrived: a, b; new: 'temp_c'``."""
    names = ", ".join(repr(c) for c in missing)
    text = f"{what}: column{'s' if len(missing) > 1 else ''} {names} missing; arrived: {', '.join(arrived) or 'none'}"
    new = [c for c in arrived if c not in expected]
    return text + (f"; new: {', '.join(repr(c) for c in new)}" if new else "")
