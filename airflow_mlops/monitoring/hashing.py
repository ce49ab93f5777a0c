"""The hashes ``code_change`` compares: the same functions training records as run tags.

Training tags each run with ``mlops.spec_hash`` (:func:`airflow_mlops.training.hashing.spec_hash`) and
``mlops.code_version`` (:func:`airflow_mlops.training.hashing.code_version`); ``decide_retrain`` computes
both for the current spec and code and compares them with the champion's.
"""

from __future__ import annotations

from airflow_mlops.training.hashing import code_version, spec_hash

__all__ = ["code_version", "spec_hash"]
