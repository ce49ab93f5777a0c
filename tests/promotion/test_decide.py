"""Selection and action rules on fixtures of several versions (pure decision logic, no MLflow)."""

from __future__ import annotations

from airflow_mlops.promotion.candidates import make_candidate
from airflow_mlops.promotion.decide import matching_actions, select
from airflow_mlops.promotion.rulesets import RuleSet, load_rule_file, rules_for
from airflow_mlops.spec.schema import ActionRule, SelectionRule


def cands(spec, rows):
    """rows: (version, role, created_ms, metrics)."""
    return [
        make_candidate(
            spec,
            environment="production",
            version=v,
            role=role,
            created_time=created / 1000,
            metrics=metrics,
            is_champion=role == "champion",
        )
        for v, role, created, metrics in rows
    ]


def test_design_sketch_rules_pick_newest_passing_version(spec, project):
    rules = rules_for(spec, lambda rel: project / rel)
    assert len(rules.selection) == 1 and len(rules.action) == 2  # spec + configs/rules/marketplace.yaml
    versions = cands(spec, [
        ("1", "registered", 1000, {"mae": 4.0, "bias": 0.1}),
        ("2", "champion", 2000, {"mae": 4.5, "bias": 0.2}),
        ("3", "challenger", 3000, {"mae": 4.9, "bias": 0.3}),
        ("4", "registered", 2500, {"mae": 5.5, "bias": 0.0}),
    ])  # fmt: skip
    result = select(versions, rules, "production")
    assert result.winner.version == "3"
    assert [c.version for c in result.eligible] == ["1", "2", "3"]
    assert 'WHEN `metrics["mae"] <= 5`' in result.report["4"]["reason"] and "5.5" in result.report["4"]["reason"]
    assert "lost to v3 (challenger)" in result.report["2"]["lost"] and "a.created_time" in result.report["2"]["lost"]
    fired, checked = matching_actions(result.winner, rules, "production")
    assert [f.rule.uuid for f in fired] == ["0b9e2d4a-8f7c-4b8e-a1d2-5c6e7f809a12"]  # bias ok; mae under the 8 budget
    assert checked[1]["values"] == {"model_team": "marketplace", "metrics.mae": 4.9} and checked[1]["when"] is False


def test_failing_challenger_leaves_champion_selected(spec, project):
    rules = rules_for(spec, lambda rel: project / rel)
    versions = cands(
        spec, [("2", "champion", 2000, {"mae": 4.5, "bias": 0.2}), ("3", "challenger", 3000, {"mae": 9.0})]
    )
    result = select(versions, rules, "production")
    assert result.winner.version == "2" and not result.report["3"]["eligible"]
    fired, _ = matching_actions(result.winner, rules, "production")
    assert fired  # the deploy rule fires, but for the champion itself: nothing moves


def test_metric_based_selection_and_missing_metric(project):
    from airflow_mlops.spec import load_spec

    churn = load_spec(project / "dags" / "rider_churn.yaml")
    rules = rules_for(churn, lambda rel: project / rel)
    versions = cands(churn, [
        ("5", "challenger", 5000, {"auc": 0.71}),
        ("4", "champion", 4000, {"auc": 0.74}),
        ("3", "registered", 3000, {"logloss": 0.3}),  # no auc: WHEN cannot be evaluated
    ])  # fmt: skip
    result = select(versions, rules, "production")
    assert result.winner.version == "4"
    assert "missing metric 'auc'" in result.report["3"]["reason"]
    assert 'a.metrics["auc"] > b.metrics["auc"]' in result.report["5"]["lost"]


def test_ties_keep_the_champion_then_prefer_higher_version(spec):
    rule = SelectionRule(given="true", when="true", model_selection="a.metrics.mae < b.metrics.mae")
    rules = RuleSet(selection=[rule])
    tie = cands(spec, [("7", "challenger", 7, {"mae": 1.0}), ("6", "champion", 6, {"mae": 1.0})])
    result = select(tie, rules, "production")
    assert result.winner.version == "6" and "current champion stays" in result.report["7"]["lost"]
    tie = cands(spec, [("7", "challenger", 7, {"mae": 1.0}), ("6", "registered", 6, {"mae": 1.0})])
    assert select(tie, rules, "production").winner.version == "7"


def test_second_rule_breaks_ties_of_the_first(spec):
    rules = RuleSet(selection=[
        SelectionRule(model_selection="a.metrics.mae < b.metrics.mae"),
        SelectionRule(model_selection="a.created_time > b.created_time"),
    ])  # fmt: skip
    versions = cands(spec, [("1", "registered", 10, {"mae": 1.0}), ("2", "registered", 20, {"mae": 1.0}),
                            ("3", "registered", 30, {"mae": 2.0})])  # fmt: skip
    result = select(versions, rules, "production")
    assert result.winner.version == "2" and result.report["2"]["wins"] == 2


def test_environment_and_given_filter_rules(spec):
    rules = RuleSet(
        selection=[SelectionRule(given='model_name == "other"'), SelectionRule(environment="staging")],
        action=[ActionRule(environment="staging", callback_actions=[{"action": "notify"}])],
    )
    versions = cands(spec, [("1", "challenger", 1, {"mae": 1.0})])
    result = select(versions, rules, "production")
    assert result.winner is None and "no selection rule" in result.report["1"]["reason"]
    assert matching_actions(versions[0], rules, "production") == ([], [])


def test_broken_rule_file_names_file_and_field(tmp_path):
    import pytest

    from airflow_mlops.promotion.rulesets import RuleFileError

    path = tmp_path / "bad.yaml"
    path.write_text("action_rules:\n  - when: metrics.mea > 1\n    callback_actions: [{action: deploy}]\n")
    with pytest.raises(RuleFileError) as info:
        load_rule_file(path)
    text = str(info.value)
    assert f"{path}: action_rules[0].when:" in text and "unknown metric 'mea'" in text
    assert "action_rules[0].callback_actions[0]" in text and "needs alias" in text
