"""Paths named in a spec stay inside the folder they are resolved against (project, dags or data folder).

A spec is configuration, not a code boundary: ``features.repo`` is imported by the worker (Feast runs
every ``.py`` there) and ``promotion.rule_files`` are read by it. So a spec path must be relative, must
not climb with ``..``, and must still be inside its root once symbolic links are resolved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

PROJECT_ENV = "AIRFLOW_MLOPS_PROJECT"


def relative_problem(value: str) -> str | None:
    """Why ``value`` cannot be a spec path (absolute, ``..``, empty), or None when it can."""
    if not value.strip():
        return "an empty path"
    if "\x00" in value:
        return "a path with a NUL character"
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive or value.startswith("\\"):
        return "an absolute path; paths in a spec are relative to the project folder"
    if ".." in re.split(r"[\\/]", value):
        return "'..' climbs out of the project folder; paths in a spec stay inside it"
    return None


def check_relative(value: str) -> str:
    """Pydantic validator: ``value`` unchanged, or ValueError from :func:`relative_problem`."""
    problem = relative_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def inside(root: str | Path, relative: str) -> Path:
    """``root/relative`` with symbolic links resolved; ValueError when it is not inside ``root`` any more."""
    check_relative(relative)
    try:
        real_root = Path(root).resolve()
        target = (Path(root) / relative).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python < 3.13)
        raise ValueError(f"{relative!r} cannot be resolved: {exc}") from None
    if not target.is_relative_to(real_root):
        raise ValueError(f"{relative!r} resolves outside {real_root} (through a symbolic link)")
    return target


def contained(resolve: Callable[[str], str | Path], relative: str) -> Path:
    """``resolve(relative)`` (which joins a root and ``relative``), checked to stay inside that root."""
    check_relative(relative)
    joined = Path(resolve(relative))
    depth = len(Path(relative).parts)
    root = Path(*joined.parts[: len(joined.parts) - depth]) if depth else joined
    return inside(root, relative)


def project_roots(spec_path: str | Path) -> list[Path]:
    """Roots a spec path may resolve against: ``$AIRFLOW_MLOPS_PROJECT``, the dags folder's parent, the dags folder."""
    spec_dir = Path(spec_path).resolve().parent
    roots = [Path(os.environ[PROJECT_ENV])] if os.environ.get(PROJECT_ENV) else []
    return [*roots, spec_dir.parent, spec_dir]


def escape_problem(spec_path: str | Path, relative: str) -> str | None:
    """Why ``relative`` leaves a project root it exists under (a symbolic link out), or None."""
    if relative_problem(relative):
        return None  # reported by the schema
    for root in project_roots(spec_path):
        if os.path.lexists(Path(root) / relative):
            try:
                inside(root, relative)
            except ValueError as exc:
                return str(exc)
    return None
