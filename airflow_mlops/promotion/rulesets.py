"""The rules that apply to a spec: its own ``promotion`` rules plus the shared files in ``rule_files``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_mlops.spec import secrets
from airflow_mlops.spec.paths import contained
from airflow_mlops.spec.policy import trigger_rule_findings
from airflow_mlops.spec.schema import ActionRule, ModelSpec, SelectionRule
from airflow_mlops.spec.yamlsafe import MAX_BYTES, YamlProblem, decode, read_yaml


class RuleFileError(ValueError):
    """A shared rule file that cannot be read or does not validate; names the file and each field."""


class RuleFile(BaseModel):
    """A shared rule file: ``selection_rules`` and ``action_rules``, same fields as in a spec."""

    model_config = ConfigDict(extra="forbid")
    selection_rules: list[SelectionRule] = Field(default_factory=list)
    action_rules: list[ActionRule] = Field(default_factory=list)


@dataclass
class RuleSet:
    """Rules in evaluation order (spec first, then files in listed order); ``sources`` labels each rule."""

    selection: list[SelectionRule] = field(default_factory=list)
    action: list[ActionRule] = field(default_factory=list)
    sources: dict[int, str] = field(default_factory=dict)

    def source(self, rule: SelectionRule | ActionRule) -> str:
        return self.sources.get(id(rule), "spec")


def load_rule_file(path: str | Path) -> RuleFile:
    """Load and validate one rule file; :class:`RuleFileError` lists ``file: field: problem`` lines."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = read_yaml(decode(handle.read(MAX_BYTES + 1)))[0] or {}
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read rule file: {exc.strerror or exc}") from None
    except YamlProblem as exc:
        raise RuleFileError(f"{f'{path}:{exc.line}' if exc.line else path}: {exc.message}") from None
    found = [
        f"{path}: {_loc(loc)}: {kind}: credentials do not belong in a rule file"
        for loc, kind, _ in secrets.findings(data)
    ]
    if found:
        raise RuleFileError("\n".join(dict.fromkeys(found)))
    try:
        return RuleFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            lines.append(f"{path}: {_loc(error['loc'])}: {error['msg'].removeprefix('Value error, ')}")
        raise RuleFileError("\n".join(lines)) from None


def _loc(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"


def rules_for(spec: ModelSpec, resolve) -> RuleSet:
    """The spec's rules then each rule file's; ``resolve(relative)`` turns a rule_files entry into a path.

    A rule file must stay inside the folder it resolves against (no absolute path, ``..`` or symbolic
    link out), and its ``trigger_dag`` actions may start only this model's own DAGs.
    """
    rules = RuleSet(selection=list(spec.promotion.selection_rules), action=list(spec.promotion.action_rules))
    for name in spec.promotion.rule_files:
        try:
            path = contained(resolve, name)
        except ValueError as exc:
            raise RuleFileError(f"promotion.rule_files: {exc}") from None
        loaded = load_rule_file(path)
        raw = [rule.model_dump() for rule in loaded.action_rules]
        refused = [
            f"{path}: {_loc(loc)}: {msg}" for loc, msg in trigger_rule_findings(spec.model.name, raw, ("action_rules",))
        ]
        if refused:
            raise RuleFileError("\n".join(refused))
        for rule in loaded.selection_rules:
            rules.selection.append(rule)
            rules.sources[id(rule)] = name
        for rule in loaded.action_rules:
            rules.action.append(rule)
            rules.sources[id(rule)] = name
    return rules
