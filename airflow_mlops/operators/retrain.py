"""Retrain decision (monitor DAG) and the new-labelled-data signal (score DAG)."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops.operators.base import MLflowSpecOperator, SpecOperator, mlflow_template_fields


class RetrainDecisionOperator(MLflowSpecOperator):
    """Decide whether the monitor run requests a retrain, and why; skip (and so skip the trigger) if not.

    Reads ``report`` (the monitoring report's headline), the champion's ``mlops.spec_hash``/``mlops.code_version``
    tags and the retrain ledger (state database). Returns (XCom) ``retrain`` (True),
    ``reason`` (``drift``, ``metric_drop`` or ``code_change``; passed to the train DAG in conf), ``reasons``
    (every due reason → detail), ``note``, ``incident``. When no retrain is due, or the cooldown holds it
    back, the decision is pushed under XCom key ``decision`` and the task is skipped.

    :param report: the report task's result (templated; ``report.output``); None or a skipped report means
        no drift or quality evidence.
    :param mlflow_conn_id: MLflow connection (templated).
    """

    template_fields = mlflow_template_fields("report")
    ui_color = "#fff4d6"

    def __init__(self, *, report: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.monitoring.data import champion
        from airflow_mlops.monitoring.hashing import code_version, spec_hash
        from airflow_mlops.monitoring.ledger import Ledger
        from airflow_mlops.monitoring.triggers import due_reasons, retrain_decision

        spec = self.spec
        headline = self.report if isinstance(self.report, dict) else {}
        if not headline.get("report_id"):
            self.log.info("no report to judge (%s)", headline.get("skipped", "report task returned nothing"))
            headline = {}
        current = champion(self.hook, spec.model.name)
        hashes = spec_hash(spec), code_version()
        due = due_reasons(spec, headline, current, *hashes)
        with Ledger().locked(spec.model.name) as ledger:  # read the cooldown and record as one step
            decision = retrain_decision(
                spec, due, ledger, report_id=headline.get("report_id"), code_key=f"code:{hashes[0]}:{hashes[1]}"
            )
        result = decision.as_dict()
        if not decision.retrain:
            context["ti"].xcom_push(key="decision", value=result)
            why = decision.suppressed or f"no retrain due (checked {', '.join(spec.monitoring.retrain_on)})"
            self.log.info("%s: %s", spec.model.name, why)
            raise AirflowSkipException(why)
        self.log.info("%s: retrain requested, reason %s (%s)", spec.model.name, decision.reason, decision.note)
        return result


class NewDataSignalOperator(SpecOperator):
    """Update the model's new-data Asset (its ``outlets``) when labels newer than the last signal arrived.

    Compares the label source's newest timestamp and row count with the watermark in the retrain ledger.
    The first run only records the watermark; later runs skip (no Asset event) when nothing is new. The
    train DAG is scheduled on this Asset when ``new_data`` is in ``monitoring.retrain_on``.
    """

    ui_color = "#e6f4ea"

    def execute(self, context: Any) -> dict[str, Any]:
        import pyarrow.compute as pc

        from airflow_mlops import datasets, settings
        from airflow_mlops.monitoring.ledger import Ledger

        spec, model = self.spec, self.spec.model.name
        source = settings.input_path(spec.features.label_source)
        if not datasets.exists(source):
            raise AirflowSkipException(f"label source {source} does not exist")
        with datasets.parquet_file(source) as parquet:
            table = parquet.read(columns=[spec.features.timestamp])
        rows = table.num_rows
        newest = str(pc.max(table.column(0)).as_py()) if rows else ""
        ledger = Ledger()
        previous = ledger.label_watermark(model)
        ledger.set_label_watermark(model, newest, rows)
        if previous is None:
            raise AirflowSkipException(f"first look at {source}: {rows} labelled rows up to {newest} (baseline)")
        if (newest, rows) == previous or newest < previous[0]:
            raise AirflowSkipException(f"no new labels in {source} since {previous[0]} ({rows} rows)")
        self.log.info("%s: new labels up to %s (%d rows, was %s / %d)", model, newest, rows, *previous)
        return {"newest": newest, "rows": rows, "previous_newest": previous[0], "new_rows": rows - previous[1]}
