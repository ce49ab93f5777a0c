"""The gate's decision, as pure functions of candidates and rules (no I/O).

1. **Eligibility**: a selection rule *applies* to a candidate when its ENVIRONMENT is the promotion
   environment and its GIVEN holds. A candidate is eligible when at least one selection rule applies and the
   WHEN of every applying rule holds. A rule that cannot be evaluated (e.g. a missing metric) counts as false.
2. **Choice**: MODEL_SELECTION says when ``a`` beats ``b``. For a pair, the rules applying to both are tried in
   order (spec rules first, then rule files); the first rule where exactly one direction holds decides.
   The winner is the eligible candidate with the most pairwise wins. **Ties**: the current champion stays;
   otherwise the higher version number wins. Every loser records whom it lost to, under which rule and values.
3. **Actions**: action rules whose ENVIRONMENT matches and whose GIVEN and WHEN hold for the winner fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_mlops.promotion.candidates import Candidate
from airflow_mlops.promotion.rulesets import RuleSet
from airflow_mlops.rules import RuleError, compile_condition, compile_selection
from airflow_mlops.spec.schema import ActionRule, SelectionRule


@dataclass
class Outcome:
    """Result of checking one condition on one candidate."""

    holds: bool
    values: dict[str, Any]
    error: str | None = None


def check(text: str, candidate: Candidate) -> Outcome:
    """Evaluate a condition; a RuleError becomes ``holds=False`` with the error recorded."""
    rule = compile_condition(text)
    values = {path: rule.lookup(path, candidate.attrs) for path in rule.names()}
    try:
        return Outcome(bool(rule.evaluate(candidate.attrs)), values)
    except RuleError as exc:
        return Outcome(False, values, exc.reason)


def rule_id(rule: SelectionRule | ActionRule, index: int, source: str) -> str:
    return rule.uuid or f"{source}#{index}"


@dataclass
class Selection:
    winner: Candidate | None
    eligible: list[Candidate] = field(default_factory=list)
    report: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> record
    applying: dict[str, list[int]] = field(default_factory=dict)  # version -> indexes of applying rules


def select(candidates: list[Candidate], rules: RuleSet, environment: str) -> Selection:
    """Eligibility then pairwise MODEL_SELECTION; see the module docstring for the semantics."""
    result = Selection(winner=None)
    for cand in candidates:
        record: dict[str, Any] = {
            "role": cand.role,
            "metrics_source": cand.metrics_source,
            "eligible": False,
            "rules": [],
            "metrics": cand.attrs["metrics"],
        }
        result.report[cand.version] = record
        if cand.excluded:
            record["reason"] = cand.excluded
            continue
        applying: list[int] = []
        failures: list[str] = []
        for i, rule in enumerate(rules.selection):
            rid = rule_id(rule, i, rules.source(rule))
            if rule.environment != environment:
                continue
            given = check(rule.given, cand)
            entry: dict[str, Any] = {"rule": rid, "given": given.holds, "values": given.values}
            record["rules"].append(entry)
            if not given.holds:
                if given.error:
                    entry["error"] = given.error
                continue
            applying.append(i)
            when = check(rule.when, cand)
            entry["when"] = when.holds
            entry["values"] = {**given.values, **when.values}
            if not when.holds:
                detail = when.error or _values_text(when.values)
                failures.append(f"WHEN `{rule.when}` of rule {rid} is false ({detail})")
        if not applying:
            record["reason"] = f"no selection rule for environment {environment!r} applies (GIVEN false)"
        elif failures:
            record["reason"] = "; ".join(failures)
        else:
            record["eligible"] = True
            result.eligible.append(cand)
            result.applying[cand.version] = applying
    _choose(result, rules)
    return result


def _choose(result: Selection, rules: RuleSet) -> None:
    eligible = result.eligible
    if not eligible:
        return
    wins = {c.version: 0 for c in eligible}
    verdicts: dict[tuple[str, str], tuple[str | None, str]] = {}
    for i, a in enumerate(eligible):
        for b in eligible[i + 1 :]:
            winner, why = _compare(a, b, result, rules)
            verdicts[(a.version, b.version)] = verdicts[(b.version, a.version)] = (winner, why)
            if winner:
                wins[winner] += 1
    ranked = sorted(eligible, key=lambda c: (-wins[c.version], not c.attrs["is_champion"], -float(c.version)))
    top = ranked[0]
    result.winner = top
    result.report[top.version]["selected"] = True
    result.report[top.version]["wins"] = wins[top.version]
    for cand in ranked[1:]:
        record = result.report[cand.version]
        record["wins"] = wins[cand.version]
        winner, why = verdicts[(top.version, cand.version)]
        if winner == top.version:
            record["lost"] = f"lost to {top.label}: {why}"
        else:
            tie_rule = "the current champion stays" if top.attrs["is_champion"] else "the higher version wins"
            record["lost"] = (
                f"{top.label} won more comparisons ({wins[top.version]} vs {wins[cand.version]})"
                if wins[top.version] > wins[cand.version]
                else f"tied with {top.label} ({why}); on a tie {tie_rule}"
            )


def _compare(a: Candidate, b: Candidate, result: Selection, rules: RuleSet) -> tuple[str | None, str]:
    shared = [i for i in result.applying[a.version] if i in result.applying[b.version]]
    notes = []
    for i in shared:
        rule = rules.selection[i]
        rid = rule_id(rule, i, rules.source(rule))
        compiled = compile_selection(rule.model_selection)
        try:
            ab = bool(compiled.evaluate({"a": a.attrs, "b": b.attrs}))
            ba = bool(compiled.evaluate({"a": b.attrs, "b": a.attrs}))
        except RuleError as exc:
            notes.append(f"rule {rid} could not compare: {exc.reason}")
            continue
        if ab != ba:
            win, lose = (a, b) if ab else (b, a)
            values = _pair_values(compiled, win, lose)
            return (
                win.version,
                f"MODEL_SELECTION `{rule.model_selection}` of rule {rid} with a={win.label}, b={lose.label} ({values})",
            )
        notes.append(f"`{rule.model_selection}` of rule {rid} does not separate them")
    return None, "; ".join(notes) or "no selection rule applies to both"


def _pair_values(compiled: Any, a: Candidate, b: Candidate) -> str:
    scope = {"a": a.attrs, "b": b.attrs}
    return _values_text({path: compiled.lookup(path, scope) for path in compiled.names()})


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "no values"


@dataclass
class FiredRule:
    rule: ActionRule
    rule_id: str
    source: str
    values: dict[str, Any]


def matching_actions(winner: Candidate, rules: RuleSet, environment: str) -> tuple[list[FiredRule], list[dict]]:
    """Action rules that fire for ``winner``, and a record of every action rule checked."""
    fired: list[FiredRule] = []
    checked: list[dict] = []
    for i, rule in enumerate(rules.action):
        rid = rule_id(rule, i, rules.source(rule))
        if rule.environment != environment:
            continue
        given = check(rule.given, winner)
        when = check(rule.when, winner) if given.holds else Outcome(False, {})
        values = {**given.values, **when.values}
        entry = {"rule": rid, "source": rules.source(rule), "given": given.holds, "when": when.holds, "values": values}
        if given.error or when.error:
            entry["error"] = given.error or when.error
        checked.append(entry)
        if given.holds and when.holds:
            fired.append(FiredRule(rule, rid, rules.source(rule), values))
    return fired, checked
