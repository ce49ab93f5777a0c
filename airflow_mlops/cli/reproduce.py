"""``airflow-mlops reproduce MODEL --logical-date D``: re-score a date and compare with the stored predictions.

Scoring records, per (scores table, model, role, logical date), the model version and run and the
scored input dataset (path and sha256) in the ``mlops_score_runs`` table. Reproduce loads that exact
version, re-scores that exact file (refusing when its digest changed) and compares every stored
prediction and probability by row (relative tolerance 1e-9). Exit 0 when everything matches, else 1.

The logical date may be typed in any ISO 8601 form or as ``latest``; a date that matches several recorded
runs, or none, is answered with the candidate dates (``airflow-mlops runs MODEL`` lists them all).
"""

from __future__ import annotations

import argparse
import json
import sys

from airflow_mlops.cli._scores import add_model_args

TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="re-score a logical date with the recorded model version(s) and compare with stored scores",
        description=__doc__.split("\n\n", 1)[1],
        epilog="examples:\n"
        "  airflow-mlops reproduce ride_demand --logical-date latest\n"
        "  airflow-mlops reproduce ride_demand --logical-date 2024-06-01\n"
        "  airflow-mlops reproduce ride_demand --logical-date 2024-06-02T08:30:15   # a manual run's date\n"
        "  airflow-mlops reproduce ride_demand --logical-date 2024-06-01T00:00+02:00 --spec dags/ride_demand.yaml",
    )
    add_model_args(p, logical_date_required=True)
    p.add_argument("--mlflow-conn-id", default="mlflow_default", help="MLflow connection (default: mlflow_default)")
    p.set_defaults(handler=run)


def compare(stored: list[tuple], recomputed: list[tuple]) -> tuple[int, int, list[str]]:
    """``(matched, mismatched, examples)`` of stored vs recomputed ``(row_id, prediction, probability)`` rows."""
    import math

    fresh = {row_id: (pred, prob) for row_id, pred, prob in recomputed}
    matched, mismatched, examples = 0, 0, []

    def close(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= TOLERANCE["atol"] + TOLERANCE["rtol"] * abs(b)

    for row_id, pred, prob in stored:
        again = fresh.pop(row_id, None)
        if again is not None and close(pred, again[0]) and close(prob, again[1]):
            matched += 1
            continue
        mismatched += 1
        if len(examples) < 5:
            examples.append(f"row {row_id}: stored {pred!r}/{prob!r}, re-scored {again!r}")
    for row_id in sorted(fresh)[: max(0, 5 - len(examples))]:
        examples.append(f"row {row_id}: re-scored but not stored")
    return matched, mismatched + len(fresh), examples


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.cli._scores import open_scores, pick_date
    from airflow_mlops.datasets import exists, file_digest
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.hooks.model_artifact import ModelArtifactError
    from airflow_mlops.scoring.scorer import score_batches

    spec, table, db = open_scores(args.model, args.spec, args.conn_id)
    logical_date = pick_date(db, table, args.model, args.logical_date)
    runs = db.runs(table, args.model, logical_date)
    if not runs:
        print(f"no scores recorded for {args.model} at {logical_date.isoformat()} in {table.name}", file=sys.stderr)
        return 1
    mlflow_hook = MLflowHook(args.mlflow_conn_id)
    failed = False
    for rec in runs:
        label = f"{args.model} {rec['role']} version {rec['model_version']} at {logical_date.isoformat()}"
        dataset = rec["dataset_path"]
        if not dataset or not exists(dataset):
            print(f"{label}: input dataset {dataset!r} is gone; cannot reproduce", file=sys.stderr)
            failed = True
            continue
        if rec["dataset_digest"] and file_digest(dataset) != rec["dataset_digest"]:
            print(f"{label}: input dataset {dataset} changed since scoring (sha256 differs)", file=sys.stderr)
            failed = True
            continue
        try:  # only as training registered it: sealed, unchanged, skops with our trust list
            model = mlflow_hook.load_model(args.model, rec["model_version"])
        except ModelArtifactError as exc:
            print(f"{label}: {exc}", file=sys.stderr)
            failed = True
            continue
        recomputed = []
        for batch in score_batches(
            model,
            dataset,
            spec.features.entity,
            spec.features.timestamp,
            json.loads(rec["feature_names"]) or spec.features.feature_names,
            spec.scoring.chunk_rows,
            spec.model.task,
        ):
            recomputed += zip(
                *(batch.column(c).to_pylist() for c in ("row_id", "prediction", "probability")), strict=True
            )
        stored = db.predictions(table, args.model, rec["role"], logical_date)
        matched, mismatched, examples = compare(stored, recomputed)
        verdict = "match" if not mismatched and matched == len(recomputed) else "MISMATCH"
        print(f"{label}: {verdict}: {matched} matched, {mismatched} mismatched (stored {len(stored)} rows)")
        for line in examples:
            print(f"  {line}")
        failed |= verdict != "match"
    return 1 if failed else 0
