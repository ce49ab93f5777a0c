"""Content-addressed dataset files and the one door to where they live: the MLOps home, or object storage.

A dataset is named by the sha256 of its bytes. Without ``[mlops] storage_url`` datasets and reports are
files under the MLOps home (:class:`pathlib.Path`, as always). With it (e.g.
``s3://aws_default@bucket/prefix``; ``AIRFLOW__MLOPS__STORAGE_URL``) they are objects below that URL, reached
through Airflow's :class:`~airflow.sdk.ObjectStoragePath` with the connection named in the URL, so workers
share nothing but the store. Every reader opens a dataset location (a string from XCom or a run tag) through
:func:`location` / :func:`read_parquet` / :func:`parquet_file`; a URL outside the storage root is refused.

``s3://`` is served by pyarrow's S3 filesystem (wrapped for fsspec) with the credentials, region and
endpoint of the amazon provider's ``aws`` connection: ``s3fs`` pins a botocore older than the one the
amazon provider's boto3 needs, so it cannot be installed beside it. Other schemes use Airflow's own
filesystems (``file://``, ``gs://``, …).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.parquet as pq
    from airflow.sdk import ObjectStoragePath

    Location = Path | ObjectStoragePath

COPY_CHUNK = 8 << 20


class OutsideStorageError(ValueError):
    """A dataset URL that does not lie below the configured storage root."""


def is_url(value: Any) -> bool:
    """True for ``scheme://…`` strings and :class:`ObjectStoragePath` objects (not local paths)."""
    return not isinstance(value, Path) and "://" in str(value)


def storage_path(url: str) -> ObjectStoragePath:
    """``url`` as an :class:`ObjectStoragePath`, its ``s3`` filesystem attached first (see the module docstring)."""
    from airflow.sdk import ObjectStoragePath

    parts = urlsplit(str(url))
    if parts.scheme in ("s3", "s3a"):
        _attach_s3(parts.scheme, parts.username)
    return ObjectStoragePath(str(url))


def _attach_s3(protocol: str, conn_id: str | None) -> None:
    from airflow.sdk.io.store import _STORE_CACHE, attach

    if f"{protocol}-{conn_id}" in _STORE_CACHE or (conn_id is None and protocol in _STORE_CACHE):
        return
    import pyarrow.fs as pafs
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from fsspec.implementations.arrow import ArrowFSWrapper

    hook = AwsBaseHook(aws_conn_id=conn_id, client_type="s3")
    creds = hook.get_credentials()
    options: dict[str, Any] = {"access_key": creds.access_key, "secret_key": creds.secret_key}
    if creds.token:
        options["session_token"] = creds.token
    region = hook.conn_region_name or hook.conn_config.region_name
    if region:
        options["region"] = region
    endpoint = hook.conn_config.endpoint_url
    if endpoint:
        options["endpoint_override"] = endpoint
    fs = ArrowFSWrapper(pafs.S3FileSystem(allow_bucket_creation=False, allow_bucket_deletion=False, **options))
    attach(protocol, conn_id=conn_id, fs=fs)


def storage_root() -> Location:
    """Where datasets and reports go: ``[mlops] storage_url``, else the MLOps home (a local folder)."""
    from airflow_mlops import settings

    url = settings.storage_url()
    return storage_path(url) if url else settings.mlops_home()


def location(value: str | Path | ObjectStoragePath) -> Location:
    """A dataset location (string from XCom or a run tag) as a path object.

    Local paths stay :class:`~pathlib.Path`; a URL must lie below ``[mlops] storage_url`` (raises
    :class:`OutsideStorageError`): the storage connection reads nothing else, whoever wrote the string.
    """
    if not is_url(value):
        return Path(value)
    text = str(value)
    from airflow_mlops import settings

    root = (settings.storage_url() or "").rstrip("/")
    segments = urlsplit(text).path.split("/")
    if not root or not text.startswith(root + "/") or ".." in segments or "." in segments:
        raise OutsideStorageError(f"dataset {text!r} is not below the storage root {root or '(none configured)'!r}")
    return storage_path(text)


def file_digest(path: str | Path | ObjectStoragePath) -> str:
    """sha256 of a file's or object's bytes, read in chunks."""
    digest = hashlib.sha256()
    with _open(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(path: Any) -> Any:
    if isinstance(path, (str, Path)) and not is_url(path):
        return open(path, "rb")
    target = path if not isinstance(path, str) else location(path)
    return target.open("rb")


def exists(path: str | Path | ObjectStoragePath) -> bool:
    """Whether the dataset file or object exists."""
    target = location(path) if isinstance(path, str) else path
    return target.is_file()


def link_url(path: Location) -> str:
    """What a task's extra link shows for a written file: a ``file://`` URI, or the object's URL."""
    return path.resolve().as_uri() if isinstance(path, Path) else str(path)


def in_folder(path: Location, folder: Location) -> bool:
    """Whether ``path`` lies directly in ``folder`` (local paths compared resolved)."""
    if isinstance(path, Path) and isinstance(folder, Path):
        return path.resolve().parent == folder.resolve()
    return str(path.parent).rstrip("/") == str(folder).rstrip("/")


def save_parquet(frame: pd.DataFrame, folder: Location) -> tuple[Location, str]:
    """Write ``frame`` as ``<folder>/<sha256 of the file>.parquet`` (atomic); return the location and the digest.

    Writing the same rows twice gives the same file, so a re-run for the same interval is idempotent. In object
    storage the file is written to a temporary local file first and uploaded as one object (a PUT is atomic),
    skipped when an object of that name and size is there already.
    """
    if isinstance(folder, Path):
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
    with tempfile.TemporaryDirectory(prefix="mlops-dataset-") as tmp:
        local = Path(tmp) / "dataset.parquet"
        frame.to_parquet(local, index=False)
        digest = file_digest(local)
        target = folder / f"{digest}.parquet"
        if not (target.is_file() and target.stat().st_size == local.stat().st_size):
            upload(local, target)
    return target, digest


def upload(local: Path, target: ObjectStoragePath) -> None:
    """Copy a local file to ``target`` (one object)."""
    with open(local, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, COPY_CHUNK)


def read_parquet(path: str | Path | ObjectStoragePath, columns: list[str] | None = None) -> pd.DataFrame:
    """The dataset as a DataFrame (a local file, or an object below the storage root)."""
    import pandas as pd

    if isinstance(path, (str, Path)) and not is_url(path):
        return pd.read_parquet(path, columns=columns)
    with _open(path) as handle:
        return pd.read_parquet(handle, columns=columns)


@contextmanager
def parquet_file(path: str | Path | ObjectStoragePath, **options: Any) -> Iterator[pq.ParquetFile]:
    """A :class:`pyarrow.parquet.ParquetFile` over the dataset (ranged reads from object storage), closed after."""
    import pyarrow.parquet as pq

    if isinstance(path, (str, Path)) and not is_url(path):
        with pq.ParquetFile(path, **options) as parquet:
            yield parquet
        return
    with _open(path) as handle, pq.ParquetFile(handle, **options) as parquet:
        yield parquet


def newest_parquet(folder: Location) -> Location | None:
    """The most recently written ``*.parquet`` below ``folder`` (by modification time, then name), or None."""
    try:
        files = [p for p in folder.rglob("*.parquet") if p.is_file()]
    except FileNotFoundError:
        return None
    return max(files, key=lambda p: (_mtime(p), p.name)) if files else None


def _mtime(path: Location) -> float:
    stat = path.stat()
    value = getattr(stat, "st_mtime", None)
    if value is None:
        value = stat["mtime"]
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


@contextmanager
def staged(folder: Location) -> Iterator[Path]:
    """A local folder to write report files into, published to ``folder`` on exit.

    ``folder`` itself when it is local; otherwise a temporary folder whose files are uploaded to
    ``folder/<name>`` when the block ends without an error (and deleted either way).
    """
    if isinstance(folder, Path):
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="mlops-report-") as tmp:
        yield Path(tmp)
        for item in sorted(Path(tmp).iterdir()):
            if item.is_file():
                upload(item, folder / item.name)
