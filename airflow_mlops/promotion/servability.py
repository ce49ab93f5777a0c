"""Can a registered version be served? Load it from the registry in a fresh process and predict on real input.

Run as ``python -m airflow_mlops.promotion.servability URI --tracking-uri T [--sample PARQUET] [--columns a,b]``;
prints one JSON line ``{"ok": bool, "rows": n, "error": str|null}``. A fresh process proves the model loads
from the registry alone (no state of the training process), and a crash cannot take the gate down.
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
    cmd = [sys.executable, "-m", "airflow_mlops.promotion.servability", model_uri, "--tracking-uri", tracking_uri]
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


def _probe(model_uri: str, sample: str | None, columns: list[str] | None) -> dict:
    import mlflow
    import pandas as pd

    model = mlflow.pyfunc.load_model(model_uri)
    if sample:
        frame = pd.read_parquet(sample)
        schema = model.metadata.get_input_schema()
        if not columns and schema is not None and schema.has_input_names():
            columns = schema.input_names()  # the logged signature says which columns the model takes
        if columns:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                return {"ok": False, "rows": 0, "error": f"sample lacks columns {missing}"}
            frame = frame[columns]
        frame = frame.head(SAMPLE_ROWS)
    else:
        frame = model.input_example
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
    parser.add_argument("model_uri")
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--sample")
    parser.add_argument("--columns")
    args = parser.parse_args(argv)
    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    try:
        result = _probe(args.model_uri, args.sample, args.columns.split(",") if args.columns else None)
    except Exception as exc:  # any failure to load or predict means "not servable"
        result = {"ok": False, "rows": 0, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
