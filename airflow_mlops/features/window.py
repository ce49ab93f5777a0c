"""Which rows a run reads: the run's data interval, Airflow's rule for runs without one, the training cut-off.

A score run scores the rows stamped in ``[start, end)`` of its window and writes them under ``start``:

1. **The run's data interval**, when it is not empty: scheduled runs, backfills, cleared runs and manual runs
   given a logical date (Airflow infers those: the last complete interval of the schedule before the date).
2. **Airflow's inference at the run's time**, for runs without a data interval (a REST trigger with
   ``"logical_date": null``, ``TriggerDagRunOperator``): the schedule's last complete interval before the run,
   exactly what ``infer_manual_data_interval`` gives a manual run with that date.
3. **The whole source up to the run**, for DAGs without an interval schedule (``schedule.score: null``):
   written under the run's logical date (or run time).

Consecutive intervals partition time, so consecutive runs, catch-up and backfills score each row once. A
training run reads the label rows stamped before its data interval's end (else before its logical date or
run time), never rows stamped after the run time plus the spec's clock skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Window:
    """Rows stamped in ``[start, end)`` (``start`` None: from the beginning of the source)."""

    start: datetime | None
    end: datetime
    logical_date: datetime | None  # what the scores table records: the interval's start, else the run's date
    how: str

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        return f"[{start}, {self.end.isoformat()}) ({self.how})"


def utc(value: datetime) -> datetime:
    """``value`` as a plain aware UTC datetime (naive values are taken as UTC; pendulum values become stdlib)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=UTC)


def run_time(context: Any) -> datetime:
    """The run's logical date, else its ``run_after``, else now."""
    dag_run = context.get("dag_run")
    moment = context.get("logical_date") or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return utc(moment)


def run_window(context: Any) -> Window:
    """The window a score run scores (see the module docstring)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return Window(utc(start), utc(end), utc(start), "data interval")
    anchor = run_time(context)
    inferred = inferred_interval(getattr(context.get("dag"), "timetable", None), anchor)
    if inferred is not None:
        return Window(inferred[0], inferred[1], inferred[0], "no data interval: the schedule's last complete one")
    return Window(None, anchor, anchor, "no interval schedule: the whole source up to the run")


def inferred_interval(timetable: Any, anchor: datetime) -> tuple[datetime, datetime] | None:
    """The interval Airflow gives a manual run at ``anchor`` for ``timetable``; None when it is a point or none."""
    if timetable is None:
        return None
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    interval = coerce_to_core_timetable(timetable).infer_manual_data_interval(run_after=pendulum.instance(anchor))
    if interval is None or not interval.start < interval.end:
        return None
    return utc(interval.start), utc(interval.end)


def training_end(context: Any) -> datetime:
    """Training reads label rows stamped before this: the data interval's end, else the run's time."""
    end = context.get("data_interval_end")
    return utc(end) if end is not None else run_time(context)


def newest_complete_interval(schedule: str, stamps: Any, now: datetime) -> tuple[datetime, datetime] | None:
    """The newest interval of cron ``schedule`` that ended by ``now`` and holds one of ``stamps`` (None: none).

    For one-off runs that should score the newest data there is (the demo): ``airflow dags test DAG <end>``
    runs exactly this interval (Airflow infers the last complete interval before the date given).
    """
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable(schedule, pendulum.UTC)
    for stamp in sorted({utc(s) for s in stamps if utc(s) < now}, reverse=True):
        start = timetable._align_to_prev(pendulum.instance(stamp))
        end = timetable._get_next(start)
        if end <= now:
            return utc(start), utc(end)
    return None
