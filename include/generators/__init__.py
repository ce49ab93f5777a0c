"""Synthetic data generators of models scaffolded with ``airflow-mlops new``: one module per model.

A module ``include/generators/NAME.py`` with a ``generate(out_dir, days=..., *, end=None, drift=False)``
function is the generator of model ``NAME`` (spec ``dags/NAME.yaml``); modules starting with ``_`` are
helpers. ``python -m include.datagen OUT_DIR`` runs every generator after the example models' data, and
``airflow-mlops demo`` runs the pipelines of every model that has one.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def generator_names() -> list[str]:
    """Models with a generator module in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    """The generator module of model ``name`` (it must define ``generate``)."""
    module = importlib.import_module(f"{__name__}.{name}")
    if not callable(getattr(module, "generate", None)):
        raise AttributeError(f"{module.__file__}: a generator module needs a generate(out_dir, days, ...) function")
    return module
