"""What logging a fitted pipeline with the MLflow sklearn flavour needs: skops trusted types, pip pins."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
PINNED = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")


def skops_trusted_types(model: Any) -> list[str]:
    """Types skops does not trust by default in ``model``; only scikit-learn/numpy/scipy types are accepted."""
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = foreign_types(found)
    if foreign:
        raise ValueError(f"model holds types outside scikit-learn/numpy/scipy, refusing to trust them: {foreign}")
    return sorted(found)


def foreign_types(types: list[str]) -> list[str]:
    """The types in ``types`` our code does not trust (anything outside scikit-learn, numpy and scipy).

    Training refuses to log a model holding them and :mod:`airflow_mlops.hooks.model_artifact` refuses to load one.
    """
    return sorted(t for t in types if not t.startswith(TRUSTED_PREFIXES))


def pip_requirements() -> list[str]:
    """Exact pins of the serving dependencies (explicit pins also skip MLflow's slow inference)."""
    pins = []
    for name in PINNED:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins


@contextmanager
def quiet_skops() -> Iterator[None]:
    """Silence the FutureWarnings skops triggers while it searches ``sys.modules`` for a type's module.

    Under Airflow that search touches every deprecated ``airflow.*`` alias: ~1,200 warning lines per
    logged model in the task log (and thousands more per load); used around logging and loading.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"skops\.io\._utils")
        yield
