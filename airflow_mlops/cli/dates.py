"""Logical dates as people type them, resolved against the dates a model was actually scored for.

``2024-06-01``, ``2024-06-01T08:30``, ``2024-06-01 08:30:15``, ``2024-06-01T08:30:15.123456+02:00``, ``…Z`` and
``latest`` are all accepted (naive means UTC). A manual run's logical date carries microseconds that nobody
types, so a date matches a recorded one when they agree to the precision typed (a date alone: that UTC day).
One match resolves; several, or none, answer with the candidate dates.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time

LATEST = "latest"
EXAMPLES = "2024-06-01, 2024-06-01T08:30, 2024-06-01T08:30:15.123456+02:00, 2024-06-01T08:30Z"
_TIME = re.compile(r"^(?P<h>\d{2})(?::?(?P<m>\d{2})(?::?(?P<s>\d{2})(?P<f>[.,]\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DateNotRecorded(LookupError):
    """A logical date that names no recorded run, or several; the message lists the candidates."""


@dataclass(frozen=True)
class LogicalDate:
    """A typed logical date: the instant (UTC; None for ``latest``) and the precision it was typed with."""

    text: str
    moment: datetime | None
    precision: str  # latest, day, hour, minute, second, microsecond

    def matches(self, recorded: datetime) -> bool:
        """Whether ``recorded`` agrees with this date to the precision typed."""
        if self.moment is None:
            return False
        if self.precision == "day":
            return recorded.astimezone(UTC).date() == self.moment.date()
        return _truncate(recorded, self.precision) == _truncate(self.moment, self.precision)


def _truncate(value: datetime, precision: str) -> datetime:
    value = value.astimezone(UTC)
    if precision == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    if precision == "minute":
        return value.replace(second=0, microsecond=0)
    return value.replace(microsecond=0) if precision == "second" else value


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from any ISO 8601 form (a date alone is midnight UTC); ``ValueError`` otherwise."""
    text = text.strip()
    try:
        if len(text) > 64:
            raise ValueError("too long")
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:64]!r} is not an ISO 8601 date or datetime (e.g. {EXAMPLES})") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def precision_of(text: str) -> str:
    """``day``, ``hour``, ``minute``, ``second`` or ``microsecond``: how much of a time ``text`` spells."""
    text = text.strip()
    if _DATE.match(text):
        return "day"
    found = _TIME.match(re.split(r"[T ]", text, maxsplit=1)[-1]) if re.search(r"[T ]", text) else None
    if not found:
        return "microsecond"  # other ISO spellings (basic format, week dates): compare exactly
    return "microsecond" if found["f"] else "second" if found["s"] else "minute" if found["m"] else "hour"


def logical_date(text: str) -> LogicalDate:
    """argparse ``type=``: a :class:`LogicalDate` from ISO 8601 text or ``latest``."""
    if text.strip().lower() == LATEST:
        return LogicalDate(text, None, LATEST)
    try:
        return LogicalDate(text, parse_instant(text), precision_of(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} nor 'latest'") from None


def instant(text: str) -> datetime:
    """argparse ``type=``: an aware UTC datetime from ISO 8601 text (a date alone is midnight UTC)."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def end_of_day_instant(text: str) -> datetime:
    """argparse ``type=``: like :func:`instant`, but a date alone means the end of that day (UTC)."""
    value = instant(text)
    return datetime.combine(value.date(), time.max, tzinfo=UTC) if precision_of(text) == "day" else value


def resolve(wanted: LogicalDate, recorded: list[datetime], what: str) -> tuple[datetime, str | None]:
    """The recorded date ``wanted`` names and a note when it is not the one typed; raises
    :class:`DateNotRecorded` (listing candidates) when it names none or several. ``what``: e.g. ``model in table``.
    """
    dates = sorted({d.astimezone(UTC) for d in recorded})
    if not dates:
        raise DateNotRecorded(f"no scores recorded for {what}")
    if wanted.moment is None:
        return dates[-1], f"latest recorded logical date: {show(dates[-1])}"
    if wanted.moment in dates:
        same_day = [d for d in dates if d.date() == wanted.moment.date() and d != wanted.moment]
        return wanted.moment, (f"other runs that day: {', '.join(map(show, same_day))}" if same_day else None)
    matching = [d for d in dates if wanted.matches(d)]
    if len(matching) == 1:
        return matching[0], f"{wanted.text.strip()} is logical date {show(matching[0])}"
    if matching:
        raise DateNotRecorded(f"{wanted.text.strip()} matches {len(matching)} runs of {what}: "
                              f"{', '.join(map(show, matching))}; pass one of them")  # fmt: skip
    same_day = [d for d in dates if d.date() == wanted.moment.date()]
    before, after = [d for d in dates if d < wanted.moment][-1:], [d for d in dates if d > wanted.moment][:1]
    near = same_day or before + after
    label = "recorded that day" if same_day else "nearest recorded"
    listed = ", ".join(map(show, near))
    raise DateNotRecorded(f"no scores recorded for {what} at {wanted.text.strip()}; {label}: {listed}")


def show(value: datetime) -> str:
    """A logical date as ISO 8601 UTC, microseconds only when it has them."""
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z"
