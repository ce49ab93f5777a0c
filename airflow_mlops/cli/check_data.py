"""``airflow-mlops check-data SPEC DATA_FILE``: the validation gate of a spec, outside Airflow."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from airflow_mlops.spec import SpecError, load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-data",
        help="run a spec's data validation on a parquet or CSV file",
        description="Run the checks of the spec's `validation` block (Great Expectations) on DATA_FILE and "
        "print the same summary the validate task logs. The spec's policy decides: exit 0 when the data "
        "passes, or when on_failure is quarantine and the bad rows stay within max_bad_fraction (they are "
        "counted, nothing is written unless --quarantine is given); exit 1 when the task would fail; "
        "exit 2 for an invalid spec or unreadable file.",
    )
    p.add_argument("spec", metavar="SPEC", help="YAML model spec")
    p.add_argument("data", metavar="DATA_FILE", help="parquet (.parquet, .pq) or CSV (.csv) file")
    p.add_argument(
        "--now",
        default=None,
        help="run time for the freshness check, ISO 8601 (default: now, UTC)",
    )
    p.add_argument("--report-dir", default=None, help="also write the JSON and HTML report into this folder")
    p.add_argument("--quarantine", default=None, metavar="FILE", help="write the bad rows (with reasons) to FILE")
    p.add_argument(
        "--purpose",
        choices=("train", "score"),
        default=None,
        help="check as training data (label rules apply) or scoring data (default: train when the file has the label)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 on any failed check, even when quarantine applies")
    p.set_defaults(handler=run)


def read_frame(path: Path, timestamp_columns: list[str]):
    """A parquet or CSV file as a DataFrame; CSV timestamp columns are parsed as UTC."""
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
        for column in timestamp_columns:
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
        return frame
    raise ValueError(f"{path}: expected a .parquet or .csv file")


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def run(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    v = spec.validation
    timestamps = [spec.features.timestamp] + [c for c, r in v.columns.items() if r.type == "datetime"]
    if v.freshness:
        timestamps.append(v.freshness.column)
    path = Path(args.data)
    try:
        now = parse_now(args.now)
        frame = read_frame(path, timestamps)
    except (OSError, ValueError) as exc:
        print(f"check-data: {exc}", file=sys.stderr)
        return 2

    from airflow_mlops.validation.gate import run_gate
    from airflow_mlops.validation.keys import spec_keys

    purpose = args.purpose or ("train" if spec.features.label in frame.columns else "score")
    keys = spec_keys(spec, purpose)
    outcome = run_gate(frame, v, now=now, name=f"{spec.model.name}:{path.name} ({purpose})", keys=keys)
    print(outcome.summary())
    if args.report_dir:
        from airflow_mlops.datasets import file_digest
        from airflow_mlops.validation.report import write_reports
        from airflow_mlops.validation.store import report_stem

        html, report = write_reports(outcome, Path(args.report_dir), report_stem("check", now, file_digest(path)))
        print(f"report: {html} (json {report})")
    if args.quarantine and outcome.split is not None and len(outcome.split.bad):
        outcome.split.bad.to_parquet(args.quarantine, index=False)
        print(f"bad rows: {args.quarantine} ({len(outcome.split.bad):,} rows)")
    failed = not outcome.ok or (args.strict and not outcome.result.success)
    return 1 if failed else 0
