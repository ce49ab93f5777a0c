"""Can a registered version be served? Load it from the registry in a fresh process and predict on real input.

Run as ``python -m airflow_mlops.promotion.servability models:/NAME/VERSION [--sample PARQUET] [--columns a,b]``
with ``MLFLOW_TRACKING_URI`` (and any MLflow credentials) in the environment, never in argv where a process
list would show them; prints one JSON line ``{"ok": bool, "rows": n, "error": str|null}``. A fresh process
proves the model loads from the registry alone (no state of the training process), and a crash cannot take the
gate down. The probe loads through :mod:`airflow_mlops.hooks.model_artifact`, like scoring: only a version our
training DAG sealed, with unchanged files, from skops with our trust list; never pickle.
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


@dataclass
class Servability:
    ok: bool
    detail: str
    seconds: float
    rows: int = 0


def check_servable(
    model_uri: str,
    tracking_uri: str,
    sample: str | Path | None,
    columns: list[str] | None = None,
    timeout: float = 300,
) -> Servability:
    """Load ``model_uri`` and predict on up to ``SAMPLE_ROWS`` rows of ``sample`` in a subprocess.

    Without a sample the model's logged input example is used; without either the check fails.
    """
    cmd = [sys.executable, "-m", "airflow_mlops.promotion.servability", model_uri]
    if sample:
        cmd += ["--sample", str(sample)]
    if columns:
        cmd += ["--columns", ",".join(columns)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONWARNINGS": "ignore"}
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


def parse_version_uri(model_uri: str) -> tuple[str, str]:
    """``(name, version)`` of ``models:/NAME/VERSION``; aliases, stages and run URIs are refused."""
    name, _, version = model_uri.removeprefix("models:/").rpartition("/")
    if not model_uri.startswith("models:/") or not name or not version.isdigit():
        raise ValueError(f"expected models:/NAME/VERSION, got {model_uri!r}")
    return name, version


def _probe(model_uri: str, sample: str | None, columns: list[str] | None) -> dict:
    import pandas as pd

    from airflow_mlops.hooks.model_artifact import client_from_env, load_version

    name, version = parse_version_uri(model_uri)
    loaded = load_version(client_from_env(), name, version, with_input=True)
    model = loaded.model
    if sample:
        frame = pd.read_parquet(sample)
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
    predictions = model.predict(frame)
    rows = len(predictions)
    if rows != len(frame):
        return {"ok": False, "rows": rows, "error": f"{rows} predictions for {len(frame)} rows"}
    return {"ok": True, "rows": rows, "error": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_uri", help="models:/NAME/VERSION (the tracking URI comes from MLFLOW_TRACKING_URI)")
    parser.add_argument("--sample")
    parser.add_argument("--columns")
    args = parser.parse_args(argv)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("MLFLOW_TRACKING_URI is not set")
    try:
        result = _probe(args.model_uri, args.sample, args.columns.split(",") if args.columns else None)
    except Exception as exc:  # any failure to load or predict means "not servable"
        result = {"ok": False, "rows": 0, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
