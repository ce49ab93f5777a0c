"""Schedules as Airflow reads them: a cron expression or preset, checked with croniter when the spec loads.

Airflow builds a cron timetable from a schedule string and validates it with ``croniter`` only when the
DAG bag takes the DAG, so a bad string used to surface as an import error naming neither the spec nor
the field. Checking here, with the same library, makes it a spec problem with file, line and field.
``croniter`` is light (~30 ms) and already loaded by Airflow's timetables in every DAG parse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

# Presets Airflow turns into a non-cron timetable (OnceTimetable, ContinuousTimetable).
NON_CRON_PRESETS = ("@once", "@continuous")
EXAMPLES = "e.g. '*/30 * * * *', '0 6 * * 1-5', '@hourly', '@daily', '@weekly'"
MAX_LENGTH = 200


def cron_problem(expression: str) -> str | None:
    """Why croniter (as Airflow's cron timetables use it) refuses ``expression``, or None when it fires."""
    from croniter import CroniterBadDateError, croniter

    if len(expression) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    try:
        cron = croniter(expression, datetime.now(UTC))
    except Exception as exc:  # croniter raises several types for malformed text; any of them fails Airflow
        return f"not a cron expression or preset ({exc}); {EXAMPLES}"
    try:
        cron.get_next(datetime)
    except CroniterBadDateError:
        return "matches no date (e.g. the 30th of February): the DAG would never run"
    except Exception as exc:
        return f"not a cron expression or preset ({exc}); {EXAMPLES}"
    return None


def schedule_problem(value: str) -> str | None:
    """Why ``value`` is not a schedule Airflow accepts, or None."""
    if value in NON_CRON_PRESETS:
        return None
    return cron_problem(value)


def check_schedule(value: str) -> str:
    """Pydantic validator: ``value`` unchanged, or ValueError saying why Airflow would refuse it."""
    problem = schedule_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ScheduleText = Annotated[
    str,
    AfterValidator(check_schedule),
    Field(examples=["@daily", "*/30 * * * *"], description="Cron expression or Airflow preset."),
]
