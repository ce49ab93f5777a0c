"""Model specs: schema, loading and errors."""

from airflow_mlops.spec.errors import SpecError, SpecProblem
from airflow_mlops.spec.loader import find_specs, load_spec, load_spec_cached, parse_spec
from airflow_mlops.spec.schema import ModelSpec, json_schema

__all__ = [
    "ModelSpec",
    "SpecError",
    "SpecProblem",
    "find_specs",
    "json_schema",
    "load_spec",
    "load_spec_cached",
    "parse_spec",
]
