"""Compare the challenger (the version just trained) with the champion on the same fresh window."""

from __future__ import annotations

import time
from typing import Any

from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.links import MLflowRunLink, ReportLink
from airflow_mlops.operators.base import MLflowSpecOperator, mlflow_template_fields, required

CHAMPION = "champion"


class EvaluateOperator(MLflowSpecOperator):
    """Score challenger and champion on the most recent window of this run's dataset.

    The window is the training holdout (the most recent ``training.holdout.fraction`` by
    ``training.holdout.by``), so neither model has seen it. Logs ``fresh/<metric>`` and
    ``fresh/slice/<column>/<value>/<metric>`` to both versions' runs (step = challenger version), writes
    an HTML + JSON report under ``reports/<model>/evaluation/`` and into both runs' artifacts, and
    returns the fresh-window metrics the promotion rules read.

    :param dataset: parquet path the challenger was trained on (templated; ``train.output["dataset"]``).
    :param model_version: the challenger's registered version (templated; ``train.output["model_version"]``).
    :param run_id: the challenger's MLflow run (templated; ``train.output["run_id"]``).
    :param mlflow_conn_id: connection of the MLflow tracking server / registry (templated).
    :return: ``challenger``, ``champion``, ``window``, ``better``, ``primary_metric``, ``report_html``,
        ``report_json`` (the ``evaluation`` input of the promotion gate).
    """

    template_fields = mlflow_template_fields("dataset", "model_version", "run_id")
    operator_extra_links = (MLflowRunLink(), ReportLink())
    ui_color = "#fff4d6"

    def __init__(self, *, dataset: str, model_version: str, run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.model_version = model_version
        self.run_id = run_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.threads import thread_limit

        with thread_limit():
            return self._evaluate(context)

    def _evaluate(self, context: Any) -> dict[str, Any]:
        from airflow_mlops import settings
        from airflow_mlops.datasets import link_url, read_parquet, staged
        from airflow_mlops.training.comparison import compare_versions
        from airflow_mlops.training.estimator import PRIMARY_METRIC
        from airflow_mlops.training.fit import metric_names
        from airflow_mlops.training.report import comparison_doc, write_report
        from airflow_mlops.training.split import fresh_window_split

        spec = self.spec
        name = spec.model.name
        dataset = required(self.dataset, "dataset")
        started = time.perf_counter()
        frame = read_parquet(dataset)
        _, fresh, window = fresh_window_split(frame, spec.training.holdout.by, spec.training.holdout.fraction)
        self.log.info("fresh window of %s: %s..%s, %d rows", dataset, window.start, window.end, window.rows)

        hook = self.hook
        version, run_id = str(required(self.model_version, "model_version")), required(self.run_id, "run_id")
        challenger = self._score(hook, version, run_id, fresh)
        current = hook.version_by_alias(name, CHAMPION)
        champion = self._score(hook, current.version, current.run_id, fresh) if current is not None else None
        order = [PRIMARY_METRIC[spec.model.task], *metric_names(spec)]
        better, used = compare_versions(challenger["metrics"], champion["metrics"] if champion else None, order)
        self.log.info(
            "challenger v%s %s vs champion %s: better=%s (by %s)",
            challenger["version"],
            challenger["metrics"],
            f"v{champion['version']} {champion['metrics']}" if champion else "none",
            better,
            used or "n/a",
        )

        doc = comparison_doc(name, challenger, champion, window.as_dict(), better, used)
        stem = f"v{challenger['version']}" + (f"_vs_v{champion['version']}" if champion else "")
        reports = settings.model_reports_dir(name) / "evaluation"
        with staged(reports) as local:  # local files (MLflow logs them), published to object storage on exit
            html_path, json_path = write_report(doc, local, stem)
            self._log_to_runs(hook, challenger, champion, [str(html_path), str(json_path)])
        html_path = reports / html_path.name
        experiment_id = hook.run_experiment_id(challenger["run_id"])
        MLflowRunLink.persist(context, hook.run_url(experiment_id, challenger["run_id"]))
        ReportLink.persist(context, link_url(html_path))
        self.log.info("evaluation report %s written in %.2f s", html_path, time.perf_counter() - started)
        return {
            "challenger": challenger,
            "champion": champion,
            "window": window.as_dict(),
            "better": better,
            "primary_metric": used,
            "report_html": str(html_path),
            "report_json": str(json_path),
        }

    def _score(self, hook: MLflowHook, version: str, run_id: str, fresh: Any) -> dict[str, Any]:
        """``{version, run_id, metrics, slice_metrics}`` of one registered version on the fresh window."""
        from airflow_mlops.training.fit import evaluate_on

        model = hook.load_model(self.spec.model.name, version)
        entry: dict[str, Any] = {"version": version, "run_id": run_id, "metrics": {}, "slice_metrics": {}}
        needed = list(getattr(model, "feature_names_in_", self.spec.features.feature_names))
        missing = [c for c in needed if c not in fresh.columns]
        if missing:  # e.g. the champion was trained on features this spec no longer has
            entry["error"] = f"cannot score: fresh window lacks columns {missing}"
            self.log.warning("version %s %s", version, entry["error"])
            return entry
        entry["metrics"], entry["slice_metrics"] = evaluate_on(model, fresh, self.spec, features=needed)
        return entry

    def _log_to_runs(
        self, hook: MLflowHook, challenger: dict[str, Any], champion: dict[str, Any] | None, files: list[str]
    ) -> None:
        """``fresh/...`` metrics and the report files on the run of each compared version."""
        from airflow_mlops.training.metrics import flatten

        step = int(challenger["version"])
        for entry in [challenger, champion] if champion else [challenger]:
            hook.log_metrics(entry["run_id"], flatten(entry["metrics"], entry["slice_metrics"], "fresh/"), step=step)
            hook.log_artifacts(entry["run_id"], files, f"evaluation/v{challenger['version']}")
