"""Deep check of ``training.estimator`` and ``training.params`` with scikit-learn itself (CLI only).

The same lookups a training run makes (:mod:`airflow_mlops.training.estimator`), but every problem at
once and on the line of the param at fault: unknown names with a "did you mean", and each value
checked against the estimator's own ``_parameter_constraints``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from airflow_mlops.spec.schema import ModelSpec

Finding = tuple[tuple[Any, ...], str]
ESTIMATOR = ("training", "estimator")
PARAMS = ("training", "params")


def _strip(message: str) -> str:
    return message.removeprefix("training.estimator: ").removeprefix("training.params: ")


def estimator_findings(spec: ModelSpec) -> Iterator[Finding]:
    """Problems of the estimator class, its fit to ``model.task`` and each of its params."""
    from airflow_mlops.training.estimator import EstimatorError, build_estimator, check_kind, estimator_class

    t = spec.training
    try:
        cls = estimator_class(t.estimator)
        check_kind(cls, spec.model.task, t.estimator)
    except EstimatorError as exc:
        yield ESTIMATOR, _strip(str(exc))
        return
    except Exception as exc:  # a class whose default construction fails cannot be trained either
        yield ESTIMATOR, f"{t.estimator} cannot be constructed: {type(exc).__name__}: {exc}"
        return
    found = list(param_findings(cls, t.params))
    yield from found
    if found:
        return
    try:  # exactly what the train task does, for anything the per-param checks cannot see
        build_estimator(t.estimator, t.params, spec.model.task, t.random_state)
    except Exception as exc:
        yield PARAMS, _strip(str(exc))


def param_findings(cls: type, params: dict[str, Any]) -> Iterator[Finding]:
    """Unknown params (with the closest name) and values outside the estimator's constraints."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    valid = cls().get_params(deep=False)
    constraints = getattr(cls, "_parameter_constraints", {})
    for name, value in params.items():
        loc = (*PARAMS, name)
        if name not in valid:
            close = difflib.get_close_matches(str(name), list(valid), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield loc, f"{cls.__name__} has no parameter {name!r}{hint} (valid: {', '.join(sorted(valid))})"
            continue
        try:
            validate_parameter_constraints(constraints, {name: value}, caller_name=cls.__name__)
            cls(**{name: value})
        except Exception as exc:
            yield loc, str(exc)
