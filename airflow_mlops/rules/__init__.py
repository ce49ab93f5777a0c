"""Rule language for model selection, action and quality rules (placeholder until the rules issue)."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule that does not parse or cannot be evaluated."""


def check_condition(text: str) -> None:
    """Raise :class:`RuleError` when ``text`` is not a valid condition."""
    if not text or not text.strip():
        raise RuleError("empty rule")


def check_selection(text: str) -> None:
    """Raise :class:`RuleError` when ``text`` is not a valid two-version selection rule."""
    check_condition(text)
