"""Identity of what produced a model: the spec's canonical content and the training code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parents[1]
TRAINING_CODE = ("training", "operators/train.py", "operators/evaluate.py", "hooks/mlflow.py")


MODEL_DEFINING = {"model": {"name", "task"}, "features": True, "validation": True, "training": True}


def spec_hash(spec: Any) -> str:
    """sha256 of the parts of the spec that define the model, as canonical JSON.

    Only what changes the trained model counts (name, task, features, validation, training): editing a
    schedule, a promotion rule or a description is not a ``code_change`` that warrants a retrain. Key order
    and YAML formatting do not matter.
    """
    canonical = json.dumps(spec.model_dump(mode="json", include=MODEL_DEFINING), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def code_hash() -> str:
    """sha256 over the training code files (paths and contents), in a stable order."""
    digest = hashlib.sha256()
    for entry in TRAINING_CODE:
        path = _PACKAGE / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(_PACKAGE)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def code_version() -> str:
    """``<package version>+<first 12 hex of the training code hash>``, e.g. ``0.1.0+3f2a…``."""
    from airflow_mlops import __version__

    return f"{__version__}+{code_hash()[:12]}"
