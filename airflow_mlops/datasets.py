"""Content-addressed dataset files: what a run read is named by the sha256 of its bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
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
    """Write ``frame`` as ``<folder>/<sha256 of the file>.parquet`` (atomic); return the path and the digest.

    Writing the same rows twice gives the same file, so a re-run for the same interval is idempotent.
    """
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
