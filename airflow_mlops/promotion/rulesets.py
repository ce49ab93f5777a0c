"""The rules that apply to a spec: its own ``promotion`` rules plus the shared files in ``rule_files``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_mlops.spec.schema import ActionRule, ModelSpec, SelectionRule


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
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read rule file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path}: not valid YAML: {exc}") from None
    try:
        return RuleFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
            lines.append(f"{path}: {loc or '(top level)'}: {error['msg'].removeprefix('Value error, ')}")
        raise RuleFileError("\n".join(lines)) from None


def rules_for(spec: ModelSpec, resolve) -> RuleSet:
    """The spec's rules then each rule file's; ``resolve(relative)`` turns a rule_files entry into a path."""
    rules = RuleSet(selection=list(spec.promotion.selection_rules), action=list(spec.promotion.action_rules))
    for name in spec.promotion.rule_files:
        loaded = load_rule_file(resolve(name))
        for rule in loaded.selection_rules:
            rules.selection.append(rule)
            rules.sources[id(rule)] = name
        for rule in loaded.action_rules:
            rules.action.append(rule)
            rules.sources[id(rule)] = name
    return rules
