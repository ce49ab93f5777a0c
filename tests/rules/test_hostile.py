"""Hostile and random rule texts: never run Python code, never hang, always a value or one RuleError."""

from __future__ import annotations

import builtins

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_mlops.rules import RuleError, compile_condition, compile_selection
from airflow_mlops.rules.grammar import MAX_LENGTH

compile_condition("metrics.mae > 1 and 2 ** 2 > 1").evaluate({"metrics": {"mae": 2.0}})  # import everything now
compile_selection("a.version > b.version")

CANDIDATE = {
    "model_name": "m",
    "model_domain": "d",
    "model_team": "t",
    "team": "t",
    "model_task": "regression",
    "environment": "production",
    "role": "challenger",
    "version": 2.0,
    "created_time": 1.0,
    "age_days": 0.0,
    "is_champion": False,
    "metrics": {"mae": 1.0, "bias": 0.0},
    "slices": {},
    "tags": {},
}
COUNTS = {"cases": 0, "values": 0, "errors": 0}

ATOMS = [
    "metrics.mae",
    'metrics["bias"]',
    "version",
    "created_time",
    '"x"',
    "model_name",
    "true",
    "1",
    "2.5",
    "1e308",
    "99999999",
    "__class__",
    "__import__('os')",
    "lambda: 1",
    "os.system",
    "a.__dict__",
    "()",
    "tags['k']",
    "slices['z']['a']['mae']",
    "[1, 2]",
    "exec",
    "eval('1')",
    "__builtins__",
]
OPS = [
    " and ",
    " or ",
    " == ",
    " < ",
    " ** ",
    " * ",
    " / ",
    " + ",
    " - ",
    " in ",
    " between ",
    " not ",
    ".",
    "[",
    "]",
    "(",
    ")",
    ", ",
    " % ",
]


def _forbidden(*args, **kwargs):
    raise AssertionError("eval/exec called while a rule was compiled or evaluated")


def _run(text: str) -> None:
    COUNTS["cases"] += 1
    original = (builtins.eval, builtins.exec, builtins.__import__)
    builtins.eval = builtins.exec = _forbidden  # the rule engine must never need them
    try:
        value = compile_condition(text).evaluate(CANDIDATE)
    except RuleError as exc:
        builtins.eval, builtins.exec, _ = original
        assert str(exc)
        COUNTS["errors"] += 1
        return
    finally:
        builtins.eval, builtins.exec, _ = original
    assert isinstance(value, bool)
    COUNTS["values"] += 1


@pytest.fixture(autouse=True, scope="module")
def _report_counts():
    yield
    print(f"\nhostile rule cases tried: {COUNTS['cases']} ({COUNTS['values']} values, {COUNTS['errors']} RuleErrors)")


@pytest.mark.timeout(120)
@settings(max_examples=1500, deadline=2000, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(ATOMS + OPS), min_size=1, max_size=40))
def test_random_token_soup(parts):
    _run("".join(parts))


@pytest.mark.timeout(120)
@settings(max_examples=1000, deadline=2000, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300))
def test_random_text(text):
    _run(text)


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "metrics.__class__.__bases__[0].__subclasses__()",
    "().__class__",
    "(lambda: 1)()",
    "[x for x in (1,)]",
    "2 ** 99999999 > 1",
    "10 ** 400 > 1",
    "9" * 30 + " > 1",
    "1e308 * 1e308 > 1",
    "metrics.mae ** 1e10 > 1",
    "(-1) ** 0.5 > 0",
    "(" * 5000 + "1" + ")" * 5000 + " > 0",
    "[" * 5000 + "]" * 5000,
    "not " * 3000 + "true",
    "- " * 3000 + "1 > 0",
    "1" + " + 1" * 990 + " > 0",
    "true and " * 490 + "true",
    "x" * (MAX_LENGTH + 1),
    "a" * 100000 + " == 1",
    "metrics." + ".".join(["mae"] * 300) + " > 1",
    "'unterminated",
    "\x00 == 1",
    "metrics[__import__('os')] > 1",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_texts_end_in_value_or_rule_error(text, tmp_path):
    _run(text)
    try:
        compile_selection(text)
    except RuleError:
        pass


def test_thousands_of_nesting_levels_give_a_clean_error():
    for text in ("(" * 10000 + "true" + ")" * 10000, "not " * 900 + "true", "-" * 3000 + "1 > 0"):
        with pytest.raises(RuleError, match=r"too deeply|too long"):
            compile_condition(text)


@pytest.mark.timeout(30)  # a hang guard: 2 ** 99999999 must be refused, not computed
def test_huge_numbers_fail_fast():
    for text in ("2 ** 99999999 > 1", "version ** 99999999 > 1", "metrics.mae * 1e300 * 1e300 > 1"):
        with pytest.raises(RuleError):
            compile_condition(text).evaluate({**CANDIDATE, "version": 3.0, "metrics": {"mae": 2.0}})
