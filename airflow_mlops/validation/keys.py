"""What the gate needs to know of a spec beyond its ``validation`` block: key, label, purpose, named columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from airflow_mlops.validation.checks import Keys

if TYPE_CHECKING:
    from airflow_mlops.spec import ModelSpec


def spec_keys(spec: ModelSpec, purpose: Literal["train", "score"]) -> Keys:
    """The (entity, timestamp) key, the label and every column the spec names, for ``purpose``."""
    f = spec.features
    return Keys(entity=f.entity, timestamp=f.timestamp, label=f.label, purpose=purpose, known=tuple(f.feature_names))
