"""Batch-score the validated scoring set with the champion (and, in shadow mode, the challenger)."""

from __future__ import annotations

import time
from typing import Any

from airflow_mlops.hooks.scores_db import ScoresDbHook
from airflow_mlops.operators.base import MLflowSpecOperator, mlflow_template_fields, required


class NoChampionError(RuntimeError):
    """The registered model has no ``champion`` alias yet."""


class BatchScoreOperator(MLflowSpecOperator):
    """Score ``dataset`` (the validated scoring input) into ``spec.scoring.destination``.

    The ``champion`` alias is resolved to a concrete version once, at task start; only that version
    scores. With ``scoring.shadow`` and a ``challenger`` alias on another version, the challenger also
    scores into the same table with ``role = 'challenger'``. Each (model, role, logical date) slice is
    replaced atomically, so retries and re-runs never duplicate rows; a re-run by another DAG run (or with
    another model version) keeps the rows it supersedes queryable (``<table>_history``). A batch that is
    empty or smaller than ``scoring.min_rows_fraction`` of the rows it would replace fails the task
    (``AirflowFailException``, no retries) and writes nothing.

    :param dataset: parquet path of the validated scoring input (templated; ``validate.output["dataset"]``).
    :param digest: its sha256 (templated); computed from the file when not given.
    :param scores_conn_id: connection of the scores database (templated; the factory passes the spec's
        ``scoring.destination.conn_id``).
    :param mlflow_conn_id: MLflow connection (templated; see :class:`~airflow_mlops.hooks.mlflow.MLflowHook`).
    :return: ``rows``, ``table``, ``model_version``, ``run_id``, ``logical_date``, ``conn_id``, ``dataset``,
        ``shadow``.
    """

    template_fields = mlflow_template_fields("dataset", "digest", "scores_conn_id")
    ui_color = "#fde9d9"

    def __init__(
        self,
        *,
        dataset: str,
        digest: str | None = None,
        scores_conn_id: str = ScoresDbHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.digest = digest
        self.scores_conn_id = scores_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        spec = self.spec
        name = spec.model.name
        dataset = required(self.dataset, "dataset")
        mlflow_hook = self.hook
        champion = mlflow_hook.version_by_alias(name, "champion")
        if champion is None:
            raise NoChampionError(
                f"model {name!r} has no 'champion' version in MLflow ({mlflow_hook.redacted_uri}): "
                f"run the {spec.dag_ids['train']} DAG and promote a version first"
            )
        self.log.info("scoring with %s version %s (alias champion, run %s)", name, champion.version, champion.run_id)
        roles = [("champion", champion)]
        if spec.scoring.shadow:
            challenger = mlflow_hook.version_by_alias(name, "challenger")
            if challenger is not None and challenger.version != champion.version:
                self.log.info(
                    "shadow scoring with challenger version %s (run %s)", challenger.version, challenger.run_id
                )
                roles.append(("challenger", challenger))
            else:
                self.log.info("shadow scoring on, but no challenger distinct from the champion")
        from airflow_mlops.features.window import run_window

        logical_date = run_window(context).logical_date  # the scored interval's start (docs/intervals.md)
        conn_id = self.scores_conn_id
        db = ScoresDbHook(conn_id)
        # Every model is verified and loaded before anything is written: a tampered one scores nothing.
        models = {role: mlflow_hook.load_model(ref.name, ref.version, known=ref) for role, ref in roles}
        written = {
            role: self._score_role(ref, role, dataset, self.digest, logical_date, context, db, models[role])
            for role, ref in roles
        }
        result = {
            "rows": written["champion"],
            "table": spec.scoring.destination.table,
            "model_version": champion.version,
            "run_id": champion.run_id,
            "logical_date": logical_date.isoformat(),
            "conn_id": conn_id,
            "dataset": dataset,
            "shadow": None,
        }
        if "challenger" in written:
            result["shadow"] = {
                "model_version": roles[1][1].version,
                "run_id": roles[1][1].run_id,
                "rows": written["challenger"],
            }
        return result

    def _score_role(self, ref, role, dataset, digest, logical_date, context, db, model) -> int:
        from airflow_mlops.datasets import file_digest
        from airflow_mlops.scoring.scorer import score_batches, scores_table
        from airflow_mlops.scoring.table import ScoreBatchKey, ScoredInput
        from airflow_mlops.scoring.writers import ReplacePolicy, ReplaceRefused, log_progress, replace_scores

        spec = self.spec
        table = scores_table(spec, dataset)
        key = ScoreBatchKey(spec.model.name, ref.version, role, ref.run_id, context["run_id"], logical_date)
        source = ScoredInput(str(dataset), digest or file_digest(dataset), tuple(spec.features.feature_names))
        batches = score_batches(
            model,
            dataset,
            spec.features.entity,
            spec.features.timestamp,
            spec.features.feature_names,
            spec.scoring.chunk_rows,
            spec.model.task,
        )
        policy = ReplacePolicy(
            spec.scoring.min_rows_fraction, spec.scoring.keep_superseded_runs, spec.scoring.keep_superseded_days
        )
        started = time.monotonic()
        try:
            rows = replace_scores(db, table, key, log_progress(batches, self.log.info), source=source, policy=policy)
        except ReplaceRefused as exc:  # a data error: retrying scores the same data again
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc
        took = time.monotonic() - started
        (self.log.warning if rows == 0 else self.log.info)(
            "%s: wrote %d %s rows for %s to %s (%s) in %.1fs, %.0f rows/s (chunks of %d)",
            spec.model.name,
            rows,
            role,
            key.logical_date.isoformat(),
            table.name,
            db.dialect,
            took,
            rows / max(took, 1e-9),
            spec.scoring.chunk_rows,
        )
        return rows
