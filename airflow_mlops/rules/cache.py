"""Remember which rule texts compiled, so that DAG parsing need not import lark again.

Airflow's DAG processor parses each spec in a fresh fork; importing lark there and building the rule
parser cost about 0.2 s of CPU per spec file on every parse loop, only to learn again that an unchanged
rule is valid. After a rule compiled once, an empty marker file named by the SHA-256 of (rule language
version, kind, text) goes into ``<MLOps home>/cache/rules``; :func:`known_valid` is one ``stat``.

The language version hashes the rule modules' own source (grammar, compiler, types, errors), so editing
any of them invalidates every marker. The cache only ever skips a *check*: evaluating a rule always
compiles it (:func:`airflow_mlops.rules.compile_condition`), so a planted marker can at worst let an
invalid rule through DAG parsing, to fail when its task runs; rules are never ``eval``-ed.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

DISABLE_ENV = "AIRFLOW_MLOPS_RULE_CACHE"  # "0" turns the cache off
_SOURCES = ("grammar.py", "compiler.py", "types.py", "errors.py")


@lru_cache(maxsize=1)
def language_version() -> str:
    """SHA-256 over the rule modules' source: changes whenever the language or its scopes change."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _folder() -> Path | None:
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    from airflow_mlops.settings import mlops_home

    try:
        folder = mlops_home() / "cache" / "rules"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return folder


def _marker(kind: str, text: str) -> Path | None:
    folder = _folder()
    if folder is None:
        return None
    key = hashlib.sha256(f"{language_version()}\0{kind}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return folder / key


def known_valid(kind: str, text: str) -> bool:
    """Whether ``text`` compiled before as a rule of ``kind`` under this language version."""
    marker = _marker(kind, text)
    return marker is not None and marker.is_file()


def remember_valid(kind: str, text: str) -> None:
    """Record that ``text`` compiled as a rule of ``kind``; silently does nothing if the cache is unwritable."""
    marker = _marker(kind, text)
    if marker is not None:
        try:
            marker.touch(mode=0o600)
        except OSError:
            pass


def clear() -> None:
    """Forget the folder (tests change ``AIRFLOW_MLOPS_HOME`` or the disable switch)."""
    _folder.cache_clear()
