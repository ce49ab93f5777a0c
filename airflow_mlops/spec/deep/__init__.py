"""Deep spec checks, run by ``airflow-mlops validate`` (never while Airflow parses DAGs).

They import scikit-learn, Feast and pandas, read rule files and run the Feast repo's code, so they
belong in the CLI and CI: estimator and params, rule files, Feast definitions, and a smoke fit of the
train task's own code on synthetic rows (skipped while anything else is wrong).
"""

from __future__ import annotations

from pathlib import Path

from airflow_mlops.spec.deep.estimator import estimator_findings
from airflow_mlops.spec.deep.feast_repo import feast_findings
from airflow_mlops.spec.deep.lines import Locator
from airflow_mlops.spec.deep.rulefiles import rule_file_problems
from airflow_mlops.spec.deep.smoke import smoke_fit_problem
from airflow_mlops.spec.errors import SpecProblem
from airflow_mlops.spec.schema import ModelSpec


def deep_problems(spec: ModelSpec, spec_path: str | Path, *, fit: bool = True) -> list[SpecProblem]:
    """Every deep problem of a spec that loaded, each as ``file:line: field: message``."""
    where = Locator(spec_path)
    problems = [where.problem(loc, msg) for loc, msg in estimator_findings(spec)]
    problems += rule_file_problems(spec, spec_path, where)
    findings, definitions = feast_findings(spec, spec_path)
    problems += [where.problem(loc, msg) for loc, msg in findings]
    if fit and not problems:
        kinds = {}
        if definitions is not None:
            for ref in spec.features.refs:
                view, feature = ref.split(":", 1)
                kinds[feature] = definitions.views[view][feature]
        problem = smoke_fit_problem(spec, kinds)
        if problem:
            loc = ("training", "params") if spec.training.params else ("training", "estimator")
            problems.append(where.problem(loc, problem))
    return problems


__all__ = ["deep_problems"]
