"""``airflow-mlops new NAME ...``: scaffold a model without editing shared files.

Writes the spec ``dags/NAME.yaml`` and its DAG stub ``dags/NAME.py``, the model's own Feast definitions
``configs/feature_repo/NAME_features.py`` and a synthetic data generator ``include/generators/NAME.py``.
The spec is validated (schema and cross-section checks) before anything is written; existing files are
never overwritten. See docs/add-a-model.md.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from airflow_mlops.cli._scaffold import ENTITY_TYPES, FEATURE_TYPES, Model, feature_text, generator_text, spec_text

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
GENERATORS_INIT = "include/generators/__init__.py"

EPILOG = """examples:
  airflow-mlops new delivery_time --entity store_id --timestamp ts --task regression --feature orders:int \
--feature prep_minutes:float --feature region:str --label minutes
  airflow-mlops new fraud --entity card_id --task classification --feature amount:float --label is_fraud --dry-run"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "new",
        help="scaffold a model: spec, DAG stub, Feast definitions and a data generator",
        description="Write dags/NAME.yaml, dags/NAME.py, configs/feature_repo/NAME_features.py and "
        "include/generators/NAME.py for a new model. Nothing shared is edited and no file is overwritten.",
        epilog=EPILOG,
    )
    p.add_argument("name", help="model name (lowercase letters, digits, _): registered model and DAG id prefix")
    p.add_argument("--entity", required=True, help="entity key column, COLUMN or COLUMN:int|str (default int)")
    p.add_argument("--timestamp", default="event_timestamp", help="event-time column (default: event_timestamp)")
    p.add_argument("--task", required=True, choices=["regression", "classification"])
    p.add_argument(
        "--feature",
        dest="features",
        action="append",
        required=True,
        metavar="COLUMN:TYPE",
        help=f"a feature column and its type ({', '.join(FEATURE_TYPES)}); repeat for each feature",
    )
    p.add_argument("--label", required=True, help="label column")
    p.add_argument("--team", default="ml", help="owning team (DAG owner; default: ml)")
    p.add_argument("--project", default=".", help="project folder with dags/, configs/, include/ (default: .)")
    p.add_argument("--dry-run", action="store_true", help="list the files it would write, write nothing")
    p.set_defaults(handler=run)


def _column(text: str, types: tuple[str, ...], what: str, default: str | None = None) -> tuple[str, str]:
    name, _, kind = text.strip().partition(":")
    kind = kind or default or ""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r}: not a column name (letters, digits, _; not starting with a digit)")
    if kind not in types:
        raise ValueError(f"{what} {text!r}: type must be one of {', '.join(types)} (as COLUMN:TYPE)")
    return name, kind


def model_from_args(args: argparse.Namespace) -> Model:
    """The declared model, with every name checked (ValueError names the first bad one)."""
    if not MODEL_NAME.match(args.name):
        raise ValueError(f"model name {args.name!r}: lowercase letters, digits and _, starting with a letter")
    entity, entity_type = _column(args.entity, ENTITY_TYPES, "--entity", default="int")
    timestamp, _ = _column(f"{args.timestamp}:x", ("x",), "--timestamp")
    label, _ = _column(f"{args.label}:x", ("x",), "--label")
    features = tuple(_column(f, FEATURE_TYPES, "--feature") for f in args.features)
    names = [entity, timestamp, label, "created", *(c for c, _ in features)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"column {repeated[0]!r} is declared twice (entity, timestamp, label, created and features "
            "must all differ; 'created' is the ingestion-time column the source adds)"
        )
    return Model(args.name, entity, entity_type, timestamp, args.task, features, label, args.team)


def planned_files(root: Path, m: Model) -> dict[Path, str]:
    """Every file to write and its text."""
    from airflow_mlops.factory import STUB_TEMPLATE

    files = {
        root / "dags" / f"{m.name}.yaml": spec_text(m),
        root / "dags" / f"{m.name}.py": STUB_TEMPLATE.format(spec_name=f"{m.name}.yaml"),
        root / m.repo / f"{m.name}_features.py": feature_text(m),
        root / "include" / "generators" / f"{m.name}.py": generator_text(m),
    }
    init = root / GENERATORS_INIT
    if not init.exists():  # a project made before generators existed: make the folder a package
        files[init] = '"""Synthetic data generators of models scaffolded with `airflow-mlops new`."""\n'
    return files


def check_spec(path: Path, text: str) -> None:
    """Raise SpecError unless ``text`` is a valid spec (schema, policy and cross-section checks) at ``path``."""
    from airflow_mlops.spec.loader import parse_spec

    parse_spec(text, str(path), spec_path=path)


def clashes(root: Path, m: Model, files: dict[Path, str]) -> list[str]:
    """Why the files cannot be written: existing files, or Feast names the repo already uses."""
    problems = [f"{path} exists (airflow-mlops new never overwrites)" for path in files if path.exists()]
    for folder in ("dags", m.repo, "include"):
        if not (root / folder).is_dir():
            problems.append(f"{root / folder} is not a folder: is {root} a project (see --project)?")
    if problems:
        return problems
    from airflow_mlops.spec.deep.feast_repo import load_definitions

    try:
        found = load_definitions(root / m.repo)
    except Exception as exc:  # the user's repo does not load: say so, it would break the new model too
        return [f"the Feast repo {root / m.repo} does not load: {type(exc).__name__}: {exc}"]
    if m.name in found.views or m.name in found.services:
        problems.append(f"the Feast repo already defines a feature view or service named {m.name!r}")
    return problems


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        m = model_from_args(args)
    except ValueError as exc:
        print(f"airflow-mlops new: {exc}", file=sys.stderr)
        return 2
    root = Path(args.project).resolve()
    files = planned_files(root, m)
    spec_path = root / "dags" / f"{m.name}.yaml"
    check_spec(spec_path, files[spec_path])
    problems = clashes(root, m, files)
    if problems:
        for problem in problems:
            print(f"airflow-mlops new: {problem}", file=sys.stderr)
        return 1
    for path, text in files.items():
        if args.dry_run:
            print(f"would write {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": fails rather than overwrite a file made meanwhile
            handle.write(text)
        print(f"wrote {path}")
    if not args.dry_run:
        print(
            f"next: python -m include.generators.{m.name} $AIRFLOW_MLOPS_HOME/data, then "
            f"airflow-mlops validate dags/{m.name}.yaml (docs/add-a-model.md)"
        )
    return 0
