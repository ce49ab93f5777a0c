"""The rule language: syntax, types, evaluation, and errors with the rule text and a caret."""

from __future__ import annotations

import pytest

from airflow_mlops.rules import RuleError, beats, check_condition, check_selection, evaluate_condition
from airflow_mlops.spec import SpecError, parse_spec

CANDIDATE = {
    "model_name": "ride_demand",
    "model_domain": "UberX",
    "model_team": "marketplace",
    "team": "marketplace",
    "version": 3.0,
    "created_time": 1_700_000_000.0,
    "metrics": {"mae": 4.2, "bias": 0.1, "rmse": 6.0},
    "slices": {"zone_type": {"airport": {"mae": 7.5}}},
    "tags": {"owner": "ana"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('model_name == "ride_demand" and model_domain == "UberX"', True),
        ('metrics["mae"] <= 5', True),
        ("metrics.mae <= 4", False),
        ('metrics["bias"] >= -0.5 and metrics["bias"] <= 0.5', True),
        ("metrics.bias between -0.5 and 0.5", True),
        ('model_team == "marketplace"', True),
        ('team in ["growth", "marketplace"]', True),
        ("version not in [1, 2]", True),
        ('slices["zone_type"]["airport"]["mae"] > 7', True),
        ('tags["owner"] == "ana" and tags["missing"] == ""', True),
        ("not (metrics.mae > 5) OR false", True),
        ("metrics.rmse / metrics.mae > 1.4 and -metrics.bias < 0", True),
        ("2 ** 3 ** 2 == 512 and 7 % 4 == 3 and -2 ** 2 == -4", True),
        ("created_time > 1600000000 and created_time < 1800000000", True),
    ],
)
def test_conditions_evaluate(text, expected):
    check_condition(text)
    assert evaluate_condition(text, CANDIDATE) is expected


def test_selection_rules_compare_two_versions():
    old = {**CANDIDATE, "version": 2.0, "created_time": 1_600_000_000.0, "metrics": {"mae": 3.0}}
    assert beats("a.created_time > b.created_time", CANDIDATE, old)
    assert not beats("a.created_time > b.created_time", old, CANDIDATE)
    assert beats('a.metrics["mae"] < b.metrics["mae"]', old, CANDIDATE)
    assert beats("a.metrics.mae < b.metrics.mae - 1", old, CANDIDATE)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('metrics["mae"] <= ', "rule ends too early", 19),
        ('metrics["mae"] <== 5', "unexpected character '='", 18),
        ("metric.mae < 5", "unknown name 'metric'", 1),
        ('metrics["maee"] < 5', "unknown metric 'maee'", 9),
        ('model_name > "a"', "> needs numbers", 12),
        ("model_name == 5", "cannot compare string with number", 12),
        ("metrics.mae", "must be true or false", 1),
        ("metrics.mae < 5 and 3", "'and' needs a boolean", 21),
        ('version in [1, "x"]', "list item is a string", 16),
        ("a.created_time > 1", "unknown name 'a'", 1),
        ("x.__class__ == 1", "unknown name 'x'", 1),
        ("2 ** 99999999 > 1", "cannot compute", 1),
        ("1 / 0 > 1", "division by zero", 3),
    ],
)
def test_errors_name_rule_and_position(text, message, column):
    with pytest.raises(RuleError) as info:
        check_condition(text)
    err = info.value
    assert message in str(err)
    assert repr(text) in str(err) and err.column == column and err.line == 1
    caret_line = str(err).splitlines()[-1]
    assert caret_line.index("^") - 4 == column - 1


def test_selection_needs_a_and_b():
    check_selection('a.metrics["auc"] > b.metrics["auc"]')
    with pytest.raises(RuleError, match="unknown name 'created_time'"):
        check_selection("created_time > b.created_time")
    with pytest.raises(RuleError, match="candidate has no attribute 'score'"):
        check_selection("a.score > b.score")


def test_missing_metric_at_run_time_is_a_rule_error():
    with pytest.raises(RuleError, match="missing metric 'auc'"):
        evaluate_condition("metrics.auc > 0.5", CANDIDATE)


def test_multiline_rule_reports_line_and_column():
    with pytest.raises(RuleError) as info:
        check_condition('model_name == "x"\n  and metrics.foo > 1')
    assert (info.value.line, info.value.column) == (2, 15)


def test_spec_validation_reports_rule_errors_with_file_and_field(project):
    original = (project / "dags" / "ride_demand.yaml").read_text()
    text = original.replace('when: metrics["mae"] <= 8', 'when: metrics["mea"] <= 8')
    assert text != original, "the example spec's selection rule changed: update this test"
    with pytest.raises(SpecError) as info:
        parse_spec(text, "ride_demand.yaml")
    problem = str(info.value)
    assert "ride_demand.yaml:" in problem and "promotion.selection_rules[0].when" in problem
    assert "unknown metric 'mea'" in problem and "^" in problem


def test_example_specs_and_rule_files_validate(project):
    from airflow_mlops.promotion.rulesets import load_rule_file
    from airflow_mlops.spec import load_spec

    for name in ("ride_demand", "rider_churn"):
        load_spec(project / "dags" / f"{name}.yaml")
    for path in (project / "configs" / "rules").glob("*.yaml"):
        load_rule_file(path)
