"""Champion vs challenger on the fresh window: metric by metric, overall and per slice, and who is better."""

from __future__ import annotations

from typing import Any

from airflow_mlops.training.metrics import better_value

CHALLENGER, CHAMPION, NO_CHAMPION = "challenger", "champion", "no_champion"


def compare_versions(
    challenger: dict[str, float], champion: dict[str, float] | None, primary: list[str]
) -> tuple[str, str]:
    """(better, metric used): the challenger wins only when strictly better on the first comparable metric."""
    if champion is None:
        return NO_CHAMPION, ""
    for metric in primary:
        if metric in challenger and metric in champion:
            won = better_value(metric, challenger[metric], champion[metric])
            return (CHALLENGER if won else CHAMPION), metric
    return CHALLENGER, ""  # nothing comparable (e.g. the champion cannot score these columns)


def rows(challenger: dict[str, float], champion: dict[str, float] | None) -> list[dict[str, Any]]:
    """One row per metric: both values, challenger minus champion, and the winner of that metric."""
    table = []
    for metric in challenger.keys() | (champion or {}).keys():
        a, b = challenger.get(metric), (champion or {}).get(metric)
        winner = None
        if a is not None and b is not None:
            winner = CHALLENGER if better_value(metric, a, b) else CHAMPION if better_value(metric, b, a) else "tie"
        delta = a - b if a is not None and b is not None else None
        table.append({"metric": metric, "challenger": a, "champion": b, "delta": delta, "winner": winner})
    return sorted(table, key=lambda r: r["metric"])


def slice_rows(challenger: dict[str, Any], champion: dict[str, Any] | None) -> list[dict[str, Any]]:
    """:func:`rows` for every slice column and value, with ``column`` and ``value`` added."""
    out = []
    champion = champion or {}
    for column in sorted(challenger.keys() | champion.keys()):
        values = challenger.get(column, {}).keys() | champion.get(column, {}).keys()
        for value in sorted(values):
            mine = challenger.get(column, {}).get(value, {})
            theirs = champion.get(column, {}).get(value) if champion else None
            for row in rows(mine, theirs):
                out.append({"column": column, "value": value, **row})
    return out
