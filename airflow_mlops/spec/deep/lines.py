"""Where each field of a YAML file is: the loader's line index, for problems found after loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlops.spec.errors import SpecProblem
from airflow_mlops.spec.loader import _field, _line_for, _line_index
from airflow_mlops.spec.yamlsafe import MAX_BYTES, YamlProblem, decode, read_yaml


class Locator:
    """Turns a field location into a :class:`SpecProblem` with the file's line for it."""

    def __init__(self, path: str | Path) -> None:
        self.file = str(path)
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            with Path(path).open("rb") as handle:
                node = read_yaml(decode(handle.read(MAX_BYTES + 1)))[1]
        except (OSError, YamlProblem):
            return
        if node is not None:
            self.lines = _line_index(node)

    def problem(self, loc: tuple[Any, ...], message: str) -> SpecProblem:
        return SpecProblem(self.file, _field(loc), message, _line_for(self.lines, loc))
