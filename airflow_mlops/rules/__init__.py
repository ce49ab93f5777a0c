"""A small, safe rule language for model selection, action and quality rules.

Parsed by lark (never ``eval``/``exec``), type-checked against the attributes a rule may name
(:mod:`airflow_mlops.rules.types`), and evaluated by walking the tree. See docs in
:mod:`airflow_mlops.rules.grammar` for the syntax.

- conditions (GIVEN, WHEN, quality rules) see one candidate: ``metrics["mae"] <= 5 and model_team == "x"``
- selection rules (MODEL_SELECTION) see two, ``a`` and ``b``, and say when ``a`` beats ``b``:
  ``a.created_time > b.created_time``
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from airflow_mlops.rules.errors import RuleError

__all__ = [
    "RuleError",
    "beats",
    "check_condition",
    "check_selection",
    "compile_condition",
    "compile_selection",
    "evaluate_condition",
]


@lru_cache(maxsize=1024)
def compile_condition(text: str):
    """A compiled condition (:class:`airflow_mlops.rules.compiler.Rule`) over one candidate's attributes."""
    from airflow_mlops.rules.compiler import compile_rule
    from airflow_mlops.rules.types import CONDITION_SCOPE

    return compile_rule(text, CONDITION_SCOPE, "condition")


@lru_cache(maxsize=1024)
def compile_selection(text: str):
    """A compiled two-version selection rule over ``a`` and ``b``."""
    from airflow_mlops.rules.compiler import compile_rule
    from airflow_mlops.rules.types import SELECTION_SCOPE

    return compile_rule(text, SELECTION_SCOPE, "selection rule")


def _check(kind: str, text: str) -> None:
    """Compile ``text`` unless it compiled before (:mod:`airflow_mlops.rules.cache`: DAG parsing skips lark)."""
    from airflow_mlops.rules import cache

    if isinstance(text, str) and cache.known_valid(kind, text):
        return
    (compile_condition if kind == "condition" else compile_selection)(text)
    cache.remember_valid(kind, text)


def check_condition(text: str) -> None:
    """Raise :class:`RuleError` when ``text`` is not a valid condition."""
    _check("condition", text)


def check_selection(text: str) -> None:
    """Raise :class:`RuleError` when ``text`` is not a valid two-version selection rule."""
    _check("selection", text)


def evaluate_condition(text: str, candidate: Mapping[str, Any]) -> bool:
    """Whether the condition holds for ``candidate`` (a mapping of ``types.CANDIDATE_FIELDS``)."""
    return compile_condition(text).evaluate(candidate)


def beats(text: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether candidate ``a`` beats ``b`` under the selection rule."""
    return compile_selection(text).evaluate({"a": a, "b": b})
