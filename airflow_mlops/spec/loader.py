"""Load a YAML spec into a :class:`ModelSpec`, with errors that name file, field and line."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from airflow_mlops.spec import secrets
from airflow_mlops.spec.consistency import consistency_findings
from airflow_mlops.spec.errors import SpecError, SpecProblem
from airflow_mlops.spec.policy import policy_findings
from airflow_mlops.spec.schema import ModelSpec
from airflow_mlops.spec.yamlsafe import MAX_BYTES, YamlProblem, decode, read_yaml

SPEC_SUFFIXES = (".yaml", ".yml")


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each field path of a YAML node tree to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            sub = (*path, key_node.value)
            lines.update(_line_index(value_node, sub))
            lines[sub] = key_node.start_mark.line + 1  # a field's line is its key's line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the longest prefix of ``loc`` the YAML parser knows."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _secret_problems(data: Any, file: str, lines: dict, texts: set[str]) -> list[SpecProblem]:
    """One problem per field holding a credential; ``texts`` collects the offending strings."""
    problems: dict[str, SpecProblem] = {}
    for loc, kind, text in secrets.findings(data):
        if len(text.strip()) >= 4:
            texts.add(text.strip())
        field = _field(loc)
        message = (
            f"{kind}: credentials do not belong in a spec; "
            "store them in an Airflow connection and reference it by conn_id"
        )
        problems.setdefault(field, SpecProblem(file, field, message, _line_for(lines, loc)))
    return list(problems.values())


def _without_secrets(problem: SpecProblem, texts: set[str]) -> SpecProblem:
    """``problem`` with its message withheld when it would repeat a credential found in the spec."""
    if not secrets.leaks(problem.message, texts):
        return problem
    return SpecProblem(
        problem.file, problem.field, "invalid value (message withheld: it repeats a credential)", problem.line
    )


def _message(error: dict[str, Any]) -> str:
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling; see `airflow-mlops schema`)"
    if error["type"] == "missing":
        return "required field is missing"
    if (
        "input" in error
        and error["type"] not in ("model_type", "dict_type")
        and not isinstance(error["input"], dict | list)
        and not secrets.has_secret(error["input"])
    ):
        msg += f" (got {error['input']!r})"
    return msg.removeprefix("Value error, ")


def parse_spec(text: str, file: str = "<spec>", *, spec_path: str | Path | None = None) -> ModelSpec:
    """Validate spec text; raise :class:`SpecError` listing every problem.

    ``spec_path`` (the file on disk, when there is one) anchors the check that project paths do not
    leave the project through a symbolic link.
    """
    try:
        data, node = read_yaml(text)
    except YamlProblem as exc:
        raise SpecError([SpecProblem(file, "(yaml)", exc.message, exc.line)]) from None
    lines = _line_index(node) if node is not None else {}
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(file, "(top level)", "a spec must be a YAML mapping", 1)])
    texts: set[str] = set()
    problems = _secret_problems(data, file, lines, texts)
    reported = {p.field for p in problems}  # a secret is reported once, as a secret
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if not any(_field(loc).startswith(f) for f in reported):
                problems.append(SpecProblem(file, _field(loc), _message(error), _line_for(lines, loc)))
        spec = None
    else:
        for loc, message in consistency_findings(spec):
            problems.append(SpecProblem(file, _field(loc), message, _line_for(lines, loc)))
    for loc, message in policy_findings(data, spec_path):
        if _field(loc) not in {p.field for p in problems}:
            problems.append(SpecProblem(file, _field(loc), message, _line_for(lines, loc)))
    problems = [_without_secrets(p, texts) if "credentials do not belong" not in p.message else p for p in problems]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate one spec file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # bounded: a spec path may name /dev/zero
        text = decode(raw)
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except YamlProblem as exc:
        raise SpecError([SpecProblem(str(path), "(file)", exc.message, exc.line)]) from None
    return parse_spec(text, str(path), spec_path=path)


@lru_cache(maxsize=256)
def _cached(path: str, mtime_ns: int, size: int) -> ModelSpec:
    return load_spec(path)


def load_spec_cached(path: str | Path) -> ModelSpec:
    """:func:`load_spec`, memoized on the file's mtime and size (DAG files are parsed constantly)."""
    stat = Path(path).stat()
    return _cached(str(path), stat.st_mtime_ns, stat.st_size)


def find_specs(paths: list[str | Path]) -> list[Path]:
    """Spec files among ``paths`` (files, or folders searched recursively)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in SPEC_SUFFIXES and q.is_file())
        else:
            found.append(p)
    return found
