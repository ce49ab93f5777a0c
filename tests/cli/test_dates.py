"""Logical dates as typed by people: every ISO form, ``latest``, and resolution against recorded runs."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from airflow_mlops.cli.dates import DateNotRecorded, end_of_day_instant, instant, logical_date, resolve, show

RECORDED = [
    datetime(2024, 6, 1, tzinfo=UTC),
    datetime(2024, 6, 2, 8, 30, 15, 123456, tzinfo=UTC),
    datetime(2024, 6, 2, 9, 0, tzinfo=UTC),
    datetime(2024, 6, 5, tzinfo=UTC),
]


@pytest.mark.parametrize(
    ("text", "moment", "precision"),
    [
        ("2024-06-01", datetime(2024, 6, 1, tzinfo=UTC), "day"),
        ("2024-06-01T08", datetime(2024, 6, 1, 8, tzinfo=UTC), "hour"),
        ("2024-06-01T08:30", datetime(2024, 6, 1, 8, 30, tzinfo=UTC), "minute"),
        ("2024-06-01 08:30:15", datetime(2024, 6, 1, 8, 30, 15, tzinfo=UTC), "second"),
        ("2024-06-01T08:30:15.5Z", datetime(2024, 6, 1, 8, 30, 15, 500000, tzinfo=UTC), "microsecond"),
        ("2024-06-01T10:30:15.123456+02:00", datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=UTC), "microsecond"),
        ("2024-06-01T08:30Z", datetime(2024, 6, 1, 8, 30, tzinfo=UTC), "minute"),
        ("  2024-06-01T03:30-05:00 ", datetime(2024, 6, 1, 8, 30, tzinfo=UTC), "minute"),
        ("latest", None, "latest"),
        ("LATEST", None, "latest"),
    ],
)
def test_every_iso_form_and_latest(text, moment, precision):
    parsed = logical_date(text)
    assert (parsed.moment, parsed.precision) == (moment, precision)
    assert parsed.moment is None or parsed.moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["yesterday", "", "   ", "2024-13-01", "2024-06-31", "2024-06-01T25:00", "2024-06-01T08:30+25:00",
             "1" * 10_000, "2024-06-01\x00", "latest!", "2024-06-01T08:30:15.123456+02:00" + "0" * 80]
)  # fmt: skip
def test_invalid_text_is_an_argparse_error_naming_it(text):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        logical_date(text)
    assert "is not an ISO 8601 date" in str(err.value) and len(str(err.value)) < 300
    with pytest.raises(argparse.ArgumentTypeError):
        instant(text)


def test_history_dates_mean_the_end_of_the_day():
    assert end_of_day_instant("2024-06-01") == datetime(2024, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert end_of_day_instant("2024-06-01T12:00+02:00") == datetime(2024, 6, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected", "note"),
    [
        ("latest", RECORDED[3], "latest recorded logical date: 2024-06-05T00:00:00Z"),
        ("2024-06-01", RECORDED[0], None),  # exact
        ("2024-06-01T00:00:00.000000+00:00", RECORDED[0], None),
        ("2024-05-31T20:00-04:00", RECORDED[0], None),  # the same instant in another zone
        ("2024-06-02T08:30:15", RECORDED[1], "2024-06-02T08:30:15 is logical date 2024-06-02T08:30:15.123456Z"),
        ("2024-06-02T08:30", RECORDED[1], "2024-06-02T08:30 is logical date 2024-06-02T08:30:15.123456Z"),
        ("2024-06-02T10:30:15+02:00", RECORDED[1], "is logical date 2024-06-02T08:30:15.123456Z"),
        ("2024-06-05", RECORDED[3], None),
        ("2024-06-02T08", RECORDED[1], "2024-06-02T08 is logical date 2024-06-02T08:30:15.123456Z"),
    ],
)
def test_resolves_exact_latest_and_untyped_microseconds(text, expected, note):
    when, said = resolve(logical_date(text), RECORDED, "m in t")
    assert when == expected
    assert (said is None) if note is None else (note in said)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-06-02", "2024-06-02 matches 2 runs of m in t: 2024-06-02T08:30:15.123456Z, 2024-06-02T09:00:00Z"),
        ("2024-06-02T10:00", "at 2024-06-02T10:00; recorded that day: 2024-06-02T08:30:15.123456Z, 2024-06-02T09:00"),
        ("2024-06-03", "nearest recorded: 2024-06-02T09:00:00Z, 2024-06-05T00:00:00Z"),
        ("2024-06-01T00:00:01", "recorded that day: 2024-06-01T00:00:00Z"),  # a second off is not the run
        ("2030-01-01", "nearest recorded: 2024-06-05T00:00:00Z"),
        ("1999-01-01", "nearest recorded: 2024-06-01T00:00:00Z"),
    ],
)
def test_ambiguous_or_unrecorded_dates_list_the_candidates(text, message):
    with pytest.raises(DateNotRecorded) as err:
        resolve(logical_date(text), RECORDED, "m in t")
    assert message in str(err.value)


def test_nothing_recorded():
    with pytest.raises(DateNotRecorded, match="no scores recorded for m in t"):
        resolve(logical_date("latest"), [], "m in t")


def test_show_is_utc_with_microseconds_only_when_present():
    assert show(RECORDED[0]) == "2024-06-01T00:00:00Z" and show(RECORDED[1]) == "2024-06-02T08:30:15.123456Z"
