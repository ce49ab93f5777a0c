"""The timetable of a spec schedule: cron expressions and presets schedule data intervals.

Airflow 3 turns a cron string into a ``CronTriggerTimetable``, whose runs have a point for a data interval. The
factory gives them a ``CronDataIntervalTimetable`` (UTC) instead, Airflow's interval timetable: each run covers
``[data_interval_start, data_interval_end)``, runs at the interval's end, and has the interval's start as its
logical date, so consecutive runs, catch-up and backfills never overlap (see docs/intervals.md).
Only Airflow's timetable classes are imported here: this runs on every DAG parse.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronDataIntervalTimetable

from airflow_mlops.spec.schedule import NON_CRON_PRESETS


def interval_schedule(value: str | None) -> Any:
    """``CronDataIntervalTimetable(value, UTC)`` for a cron expression or preset; None, @once, @continuous as-is."""
    if value is None or value in NON_CRON_PRESETS:
        return value
    return CronDataIntervalTimetable(value, timezone="UTC")
