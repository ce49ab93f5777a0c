"""The DAG factory: specs in the dags folder become DAGs.

Each spec ``NAME.yaml`` has a two-line stub ``NAME.py`` beside it (written by ``airflow-mlops stub``)
that calls :func:`dags_from_spec`, so a broken spec becomes *that file's* import error in Airflow
while every other spec's DAGs still load. Specs without a stub are picked up by the catch-all file
(:func:`dags_from_unstubbed_specs`), which names any broken one loudly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlops.factory.build import build_dags
from airflow_mlops.spec import SpecError, SpecProblem, load_spec_cached
from airflow_mlops.spec.loader import SPEC_SUFFIXES

STUB_TEMPLATE = '''"""Airflow DAG file for the model spec {spec_name} (written by `airflow-mlops stub`; do not edit).

A broken spec shows up as this file's import error in Airflow; the other specs' DAGs still load.
"""

# Named here so that Airflow's DAG processor imports them once, before it forks a process per DAG file
# (the factory's TriggerDagRunOperator; serializing it imports the sensor module).
import airflow.providers.standard.operators.trigger_dagrun as _trigger_dagrun  # noqa: F401
import airflow.providers.standard.sensors.external_task as _external_task  # noqa: F401

from airflow_mlops.factory import dags_from_spec

globals().update(dags_from_spec(__file__))
'''
STUB_MARKER = "from airflow_mlops.factory import dags_from_spec"
# Earlier versions of STUB_TEMPLATE: `airflow-mlops stub` rewrites a stub still exactly like one of them.
PREVIOUS_STUB_TEMPLATES = (
    '''"""Airflow DAG file for the model spec {spec_name} (written by `airflow-mlops stub`; do not edit).

A broken spec shows up as this file's import error in Airflow; the other specs' DAGs still load.
"""

from airflow_mlops.factory import dags_from_spec

globals().update(dags_from_spec(__file__))
''',
)


def spec_for_stub(stub_file: str | Path) -> Path:
    """The spec beside a stub: same name, .yaml or .yml."""
    stub = Path(stub_file)
    for suffix in SPEC_SUFFIXES:
        candidate = stub.with_suffix(suffix)
        if candidate.exists():
            return candidate
    raise SpecError([SpecProblem(str(stub.with_suffix(".yaml")), "(file)", "spec file not found beside its stub")])


def dags_from_spec(stub_file: str | Path) -> dict[str, Any]:
    """Build the DAGs of the spec beside ``stub_file``; raises :class:`SpecError` if it is invalid."""
    spec_path = spec_for_stub(stub_file)
    return build_dags(load_spec_cached(spec_path), spec_path)


def is_stubbed(spec_path: Path) -> bool:
    stub = spec_path.with_suffix(".py")
    return stub.exists() and STUB_MARKER in stub.read_text(encoding="utf-8", errors="replace")


def unstubbed_specs(folder: str | Path) -> list[Path]:
    """Spec files in ``folder`` (not recursive) that have no stub beside them."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix in SPEC_SUFFIXES and not is_stubbed(p))


def dags_from_unstubbed_specs(catch_all_file: str | Path) -> dict[str, Any]:
    """DAGs of every spec in the catch-all's folder that has no stub.

    Valid specs load; if any is broken, one error lists every broken spec with its file and field
    (Airflow then shows it as this file's import error). Run ``airflow-mlops stub DAGS_FOLDER`` to
    give each spec its own file, so that one broken spec hides nothing else.
    """
    dags: dict[str, Any] = {}
    problems: list[SpecProblem] = []
    for spec_path in unstubbed_specs(Path(catch_all_file).parent):
        try:
            dags.update(build_dags(load_spec_cached(spec_path), spec_path))
        except SpecError as exc:
            problems += exc.problems
    if problems:
        problems.append(
            SpecProblem(
                str(catch_all_file),
                "(hint)",
                "run `airflow-mlops stub` on the dags folder so each spec has its own file",
            )
        )
        raise SpecError(problems)
    return dags


def outdated_stubs(folder: str | Path) -> list[Path]:
    """Specs of ``folder`` whose stub is, unedited, one written by an earlier version (no pre-imports)."""
    outdated = []
    for spec_path in sorted(p for p in Path(folder).iterdir() if p.suffix in SPEC_SUFFIXES):
        stub = spec_path.with_suffix(".py")
        if stub.is_file():
            text = stub.read_text(encoding="utf-8", errors="replace")
            if any(text == old.format(spec_name=spec_path.name) for old in PREVIOUS_STUB_TEMPLATES):
                outdated.append(spec_path)
    return outdated


def write_stubs(folder: str | Path) -> list[Path]:
    """Write a stub beside each spec of ``folder`` that has none, or an unedited one of an earlier version;
    return the stubs written."""
    written = []
    for spec_path in outdated_stubs(folder):
        stub = spec_path.with_suffix(".py")
        stub.write_text(STUB_TEMPLATE.format(spec_name=spec_path.name), encoding="utf-8")
        written.append(stub)
    for spec_path in unstubbed_specs(folder):
        stub = spec_path.with_suffix(".py")
        if stub.exists():
            raise FileExistsError(f"{stub} exists and is not an airflow-mlops stub; rename the spec")
        stub.write_text(STUB_TEMPLATE.format(spec_name=spec_path.name), encoding="utf-8")
        written.append(stub)
    return written


__all__ = ["build_dags", "dags_from_spec", "dags_from_unstubbed_specs", "write_stubs"]
