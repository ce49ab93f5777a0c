"""Files the data gate writes: content-addressed parquet datasets and report names."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_parquet(frame: pd.DataFrame, folder: Path) -> tuple[Path, str]:
    """Write ``frame`` as ``<folder>/<sha256 of the file>.parquet`` (atomic); return the path and the digest."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".parquet.tmp", dir=folder)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        digest = file_digest(tmp)
        path = folder / f"{digest}.parquet"
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path, digest


def report_stem(purpose: str, run_time: datetime, digest: str, run_id: str | None = None) -> str:
    """File stem of a validation report: purpose, run time, run id (if any) and the input's digest prefix."""
    parts = [purpose, f"{run_time:%Y%m%dT%H%M%S}"]
    if run_id:
        parts.append(re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:60])
    parts.append(digest[:12])
    return "-".join(parts)
