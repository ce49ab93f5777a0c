"""Hostile YAML: how fast the hardened spec reader refuses bombs, against parsing the example spec.

Baseline: ``parse_spec`` of ``dags/ride_demand.yaml`` (a valid spec, same process). Each hostile document is
refused with a spec problem; best of 20 runs per case. Plain ``yaml.safe_load`` on the alias bomb expands
~4.8 million items (minutes), which is why it is not run here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "dags" / "ride_demand.yaml"
# 9**7 ≈ 4.8 million "lol"s once expanded (272 bytes).
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _refused(text: str) -> None:
    from airflow_mlops.spec import SpecError, parse_spec

    try:
        parse_spec(text, "hostile.yaml")
    except SpecError:
        return
    raise AssertionError("a hostile document was accepted")


def run(quick: bool = False) -> list[dict[str, Any]]:
    from airflow_mlops.spec import parse_spec
    from airflow_mlops.spec.yamlsafe import MAX_NODES

    repeat = 5 if quick else 20
    text = SPEC.read_text()
    baseline = _best(lambda: parse_spec(text, str(SPEC)), repeat)
    cases = {
        f"alias bomb ({len(BOMB)} bytes, ~4.8M items expanded)": BOMB,
        "'[' x 200,000 (deep nesting)": "[" * 200_000,
        f"{MAX_NODES + 1:,} values in one list": "model:\n  tags: [" + "x, " * (MAX_NODES + 1) + "]\n",
    }
    rows = []
    for case, hostile in cases.items():
        seconds = _best(lambda h=hostile: _refused(h), repeat)
        rows.append(
            {
                "benchmark": "hostile_yaml",
                "case": case,
                "ours": f"refused in {seconds * 1000:.2f} ms",
                "baseline": f"{baseline * 1000:.2f} ms (parse the example spec)",
                "ratio": baseline / seconds,
                "note": f"best of {repeat}",
            }
        )
    return rows
