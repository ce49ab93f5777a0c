"""Can a registered version be served? Load it from the registry in a fresh process and predict on real input.

Run as ``python -m airflow_mlops.promotion.servability --name NAME --version N [--sample PARQUET] [--columns a,b]``
with ``MLFLOW_TRACKING_URI`` (and any MLflow credentials) in the environment, never in argv where a process
list would show them; prints one JSON line ``{"ok": bool, "rows": n, "error": str|null}``. A fresh process
proves the model loads from the registry alone (no state of the training process), and a crash cannot take the
gate down. The probe loads through :meth:`airflow_mlops.hooks.mlflow.MLflowHook.load_verified` and predicts
through :func:`airflow_mlops.scoring.predict.predict`, like scoring: only a version our training DAG sealed, with
unchanged files, from skops with our trust list; never pickle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_ROWS = 200
# The probe imports Airflow (for the MLflow hook) but never its metadata DB. Inside a task, Airflow's supervisor sets
# the DB URL to "airflow-db-not-allowed:///", which SQLAlchemy cannot even parse at import: an in-memory SQLite URL
# keeps the probe off the real database and importable.
_NO_METADATA_DB = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite://", "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "sqlite://"}


@dataclass
class Servability:
    ok: bool
    detail: str
    seconds: float
    rows: int = 0


def check_servable(
    name: str,
    version: str | int,
    *,
    tracking_uri: str,
    sample: str | Path | None,
    columns: list[str] | None = None,
    task: str = "regression",
    timeout: float = 300,
) -> Servability:
    """Load version ``version`` of ``name`` and predict on up to ``SAMPLE_ROWS`` rows of ``sample`` in a subprocess.

    Without a sample the model's logged input example is used; without either the check fails. ``task`` is the
    spec's ``model.task`` (a classifier must also give probabilities, as scoring asks it to).
    """
    if not str(version).isdigit():
        raise ValueError(f"version must be a number, got {version!r} (aliases and stages are refused)")
    cmd = [sys.executable, "-m", "airflow_mlops.promotion.servability", "--name", name, "--version", str(version)]
    cmd += ["--task", task]
    if sample:
        cmd += ["--sample", str(sample)]
    if columns:
        cmd += ["--columns", ",".join(columns)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONWARNINGS": "ignore", **_NO_METADATA_DB}
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return Servability(False, f"timed out after {timeout:.0f} s", time.monotonic() - start)
    seconds = time.monotonic() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Servability(False, f"exit code {proc.returncode}: {' | '.join(tail)}", seconds)
    result = json.loads(lines[-1])
    detail = f"predicted {result['rows']} rows" if result["ok"] else result["error"]
    return Servability(bool(result["ok"]), detail, seconds, int(result.get("rows") or 0))


def _probe(name: str, version: str, task: str, sample: str | None, columns: list[str] | None) -> dict:
    from airflow_mlops.datasets import location, read_parquet
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.scoring.predict import predict

    hook = MLflowHook.for_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    loaded = hook.load_verified(name, version, with_input=True)
    model = loaded.model
    if sample:
        frame = read_parquet(location(sample))  # a local file, or an object below [mlops] storage_url
        if not columns and loaded.columns:
            columns = loaded.columns  # the logged signature says which columns the model takes
        if columns:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                return {"ok": False, "rows": 0, "error": f"sample lacks columns {missing}"}
            frame = frame[columns]
        frame = frame.head(SAMPLE_ROWS)
    else:
        frame = loaded.example
        if frame is None:
            return {"ok": False, "rows": 0, "error": "no sample input and no logged input example"}
    if len(frame) == 0:
        return {"ok": False, "rows": 0, "error": "the sample input is empty"}
    rows = len(predict(model, frame, task))
    if rows != len(frame):
        return {"ok": False, "rows": rows, "error": f"{rows} predictions for {len(frame)} rows"}
    return {"ok": True, "rows": rows, "error": None}


def _version(text: str) -> str:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a version number, got {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="registered model name")
    parser.add_argument("--version", required=True, type=_version, help="version number (no alias, no stage)")
    parser.add_argument("--task", default="regression", choices=["regression", "classification"])
    parser.add_argument("--sample")
    parser.add_argument("--columns")
    args = parser.parse_args(argv)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("MLFLOW_TRACKING_URI is not set")
    try:
        columns = args.columns.split(",") if args.columns else None
        result = _probe(args.name, args.version, args.task, args.sample, columns)
    except Exception as exc:  # any failure to load or predict means "not servable"
        result = {"ok": False, "rows": 0, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
