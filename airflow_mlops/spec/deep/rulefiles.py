"""Deep check of ``promotion.rule_files``: each file exists, parses and its rules compile.

A training run reads these only at the promote step, after training; here a problem names the rule
file's own ``file:line`` (or the spec's line for a file that is missing or leaves the project).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from airflow_mlops.spec import secrets
from airflow_mlops.spec.deep.lines import Locator
from airflow_mlops.spec.errors import SpecProblem
from airflow_mlops.spec.loader import _field, _line_for, _line_index
from airflow_mlops.spec.paths import inside, project_roots
from airflow_mlops.spec.policy import trigger_rule_findings
from airflow_mlops.spec.schema import ModelSpec
from airflow_mlops.spec.yamlsafe import MAX_BYTES, YamlProblem, decode, read_yaml


def resolve_project(spec_path: str | Path, relative: str) -> Path:
    """``relative`` under the first project root where it exists (as the operators resolve it), links checked."""
    roots = project_roots(spec_path)
    for root in roots:
        if (root / relative).exists():
            return inside(root, relative)
    return inside(roots[0], relative)


def rule_file_problems(spec: ModelSpec, spec_path: str | Path, where: Locator) -> list[SpecProblem]:
    """Every problem of every rule file the spec lists."""
    problems = []
    for i, name in enumerate(spec.promotion.rule_files):
        loc = ("promotion", "rule_files", i)
        try:
            path = resolve_project(spec_path, name)
        except ValueError as exc:
            problems.append(where.problem(loc, str(exc)))
            continue
        if not path.is_file():
            problems.append(where.problem(loc, f"rule file {name!r} not found (looked for {path})"))
            continue
        problems += check_rule_file(path, spec.model.name)
    return problems


def check_rule_file(path: Path, model_name: str) -> list[SpecProblem]:
    """Problems of one rule file, each at its ``file:line: field``."""
    from airflow_mlops.promotion.rulesets import RuleFile

    file = str(path)
    try:
        with path.open("rb") as handle:
            data, node = read_yaml(decode(handle.read(MAX_BYTES + 1)))
    except OSError as exc:
        return [SpecProblem(file, "(file)", f"cannot read rule file: {exc.strerror or exc}")]
    except YamlProblem as exc:
        return [SpecProblem(file, "(yaml)", exc.message, exc.line)]
    lines = _line_index(node) if node is not None else {}
    message = "credentials do not belong in a rule file"
    found = {
        _field(loc): SpecProblem(file, _field(loc), f"{kind}: {message}", _line_for(lines, loc))
        for loc, kind, _ in secrets.findings(data)
    }
    if found:
        return list(found.values())
    data = data if data is not None else {}
    try:
        rules = RuleFile.model_validate(data)
    except ValidationError as exc:
        return [
            SpecProblem(file, _field(e["loc"]), e["msg"].removeprefix("Value error, "), _line_for(lines, e["loc"]))
            for e in exc.errors()
        ]
    raw = [rule.model_dump() for rule in rules.action_rules]
    return [
        SpecProblem(file, _field(loc), message, _line_for(lines, loc))
        for loc, message in trigger_rule_findings(model_name, raw, ("action_rules",))
    ]
