"""Great Expectations data gate between materialization and training or scoring."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from airflow_mlops import settings
from airflow_mlops.links import ValidationReportLink
from airflow_mlops.operators.base import SpecOperator, required


class GXValidateOperator(SpecOperator):
    """Validate the materialized dataset against the spec's ``validation`` block, then apply its policy.

    Reads ``dataset`` (the materialized parquet file), runs the expectation suite built from the
    spec (Great Expectations, ephemeral context) and writes a JSON and an HTML report under
    ``reports/<model>/validation/``, linked from the task. Policy ``fail``: any failed check fails the
    task. Policy ``quarantine``: rows failing a row-level check (range, nulls, allowed values,
    uniqueness) go to ``datasets/<model>/<purpose>/quarantine/<sha256>.parquet`` with a
    ``quarantine_reason`` column and the good rows go on, unless their share exceeds
    ``max_bad_fraction``. Future rows (after the later of run time and wall clock, plus
    ``max_clock_skew``) and rows sharing an (entity, timestamp) key with different values are
    quarantined the same way; exact copies are
    dropped to one and counted (``validation.duplicates`` chooses). A failed table-level check (missing
    column, type, row count, empty batch, freshness) rejects the whole batch. Failures raise
    ``AirflowFailException``: bad data is not worth a retry.

    :param dataset: parquet path to validate (templated; e.g. ``materialize.output["dataset"]``).
    :param digest: its sha256 (templated); computed from the file when not given.
    :param purpose: ``train`` or ``score``: where the validated dataset is stored.
    :return: ``dataset``, ``digest``, ``rows_in``, ``rows_good``, ``rows_quarantined``, ``duplicates_dropped``,
        ``quarantine``, ``report_html``, ``report_json``, ``status`` (each also an XCom of its own).
    """

    template_fields = (*SpecOperator.template_fields, "dataset", "digest")
    ui_color = "#e6f4ea"
    operator_extra_links = (ValidationReportLink(),)

    def __init__(
        self, *, dataset: str, purpose: Literal["train", "score"], digest: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if purpose not in ("train", "score"):
            raise ValueError(f"purpose must be 'train' or 'score', got {purpose!r}")
        self.dataset = dataset
        self.digest = digest
        self.purpose = purpose

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_mlops.datasets import (
            file_digest,
            in_folder,
            link_url,
            location,
            read_parquet,
            save_parquet,
            staged,
        )
        from airflow_mlops.validation.gate import run_gate
        from airflow_mlops.validation.gx import import_gx
        from airflow_mlops.validation.keys import spec_keys
        from airflow_mlops.validation.report import write_reports
        from airflow_mlops.validation.store import report_stem

        started = time.monotonic()
        spec = self.spec
        model = spec.model.name
        dataset = location(required(self.dataset, "dataset"))
        frame = read_parquet(dataset)
        digest_in = self.digest or file_digest(dataset)
        now = run_time(context)
        self.log.info("validating %s: %d rows, %d columns, run time %s", dataset, len(frame), frame.shape[1], now)

        t0 = time.monotonic()
        import_gx()
        self.log.info("great_expectations imported in %.1fs", time.monotonic() - t0)
        t0 = time.monotonic()
        outcome = run_gate(
            frame, spec.validation, now=now, name=f"{model}/{self.purpose}", keys=spec_keys(spec, self.purpose)
        )
        self.log.info(
            "%d checks in %.2fs (GX %.2fs): %d failed, %d bad rows",
            len(outcome.result.checks),
            time.monotonic() - t0,
            outcome.result.seconds,
            len(outcome.result.failures),
            outcome.bad_rows,
        )
        run_id = getattr(context.get("dag_run"), "run_id", None)
        reports = settings.model_reports_dir(model) / "validation"
        with staged(reports) as local:  # local files, published to object storage (when configured) on exit
            html, report = write_reports(outcome, local, report_stem(self.purpose, now, digest_in, run_id))
        html, report = reports / html.name, reports / report.name
        ValidationReportLink.persist(context, link_url(html))
        self.log.info("report: %s (json %s)", html, report)
        summary = outcome.summary()
        if not outcome.ok:
            self.log.error("%s", summary)
            raise AirflowFailException(summary)
        self.log.info("%s", summary)

        folder = settings.model_datasets_dir(model, self.purpose)
        quarantine = None
        good = outcome.frame if outcome.prepared is not None and outcome.prepared.changed else frame
        if outcome.split is not None and len(outcome.split.bad):
            quarantine, _ = save_parquet(outcome.split.bad, folder / "quarantine")
            good = outcome.split.good
            self.log.warning("quarantined %d rows to %s", len(outcome.split.bad), quarantine)
        if good is frame and in_folder(dataset, folder):
            # Nothing quarantined and the input already is a content-addressed dataset of this purpose:
            # writing it again would produce the same bytes at the same path.
            path, digest = dataset, digest_in
        else:
            path, digest = save_parquet(good, folder)
        rows_good, rows_quarantined, dropped = len(good), outcome.rows_quarantined, outcome.duplicates_dropped
        assert rows_good + rows_quarantined + dropped == len(frame), (
            f"rows lost: {len(frame)} in, {rows_good} good + {rows_quarantined} quarantined + {dropped} duplicates"
        )
        self.log.info(
            "validated dataset %s: %d good rows, %d quarantined, %.1fs in all",
            path,
            rows_good,
            rows_quarantined,
            time.monotonic() - started,
        )
        return {
            "dataset": str(path),
            "digest": digest,
            "rows_in": len(frame),
            "rows_good": rows_good,
            "rows_quarantined": rows_quarantined,
            "duplicates_dropped": dropped,
            "quarantine": str(quarantine) if quarantine else None,
            "report_html": str(html),
            "report_json": str(report),
            "status": outcome.status,
        }


def run_time(context: Any) -> datetime:
    """The run's time, for freshness: the data interval's end, else the run's ``run_after``, else now (UTC)."""
    dag_run = context.get("dag_run")
    moment = context.get("data_interval_end") or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
