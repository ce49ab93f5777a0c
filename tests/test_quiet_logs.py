"""Quiet, useful task logs: our progress lines and real warnings, no library warning floods.

Targets (issue 16): no line repeated more than 10 times in a task's log, each task's log under 200 lines.
:func:`assert_quiet` checks the logs the demo writes (``airflow dags test`` output, one file per DAG run,
split into tasks at Airflow's ``[DAG TEST]`` start and end lines); tests/test_demo.py runs it on a full demo.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MAX_REPEATS = 10
MAX_TASK_LINES = 200
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z?\s*")
# A flood of one warning about many names ("The `airflow.utils.x.agm` attribute is deprecated") is one line.
VARYING = re.compile(r"`[^`]*`|'[^']*'|\d+(?:\.\d+)?")
TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")


def tasks(text: str) -> list[tuple[str, list[str]]]:
    """``(task id, its lines)`` of an ``airflow dags test`` log: from ``[DAG TEST] starting task_id=`` to
    ``[DAG TEST] end task``; the DAG run's own lines around them (parsing, scheduling) are not a task's."""
    found, lines, task = [], [], None
    for line in text.splitlines():
        start = TASK_START.search(line)
        if start:
            task, lines = start.group(1), []
        if task is not None:
            lines.append(line)
        if task is not None and TASK_END.search(line):
            found.append((task, lines))
            task = None
    return [*found, (f"{task} (unfinished)", lines)] if task is not None else found


def offenders(text: str, where: str = "") -> list[str]:
    """What breaks the targets in one DAG run's log, worst first."""
    problems = []
    for task, lines in tasks(text):
        if len(lines) >= MAX_TASK_LINES:
            problems.append((len(lines), f"{where} {task}: {len(lines)} lines (limit {MAX_TASK_LINES - 1})"))
        shapes = Counter(VARYING.sub("X", TIMESTAMP.sub("", line)).strip() for line in lines)
        for shape, count in shapes.most_common(3):
            if count > MAX_REPEATS and shape:
                problems.append((count, f"{where} {task}: {count}x {shape[:200]}"))
    return [text for _, text in sorted(problems, reverse=True)]


def assert_quiet(log_dir: Path) -> None:
    logs = sorted(log_dir.glob("*__*.log"))
    assert logs, f"no DAG run logs in {log_dir}"
    problems = [p for log in logs for p in offenders(log.read_text(errors="replace"), log.name)]
    assert not problems, "noisy task logs (worst first):\n" + "\n".join(problems[:15])


def _warning(name: str) -> str:
    return (
        f"2026-11-25T20:00:18.710519Z [warning  ] .../skops/io/_utils.py:70: DeprecatedImportWarning: The "
        f"`airflow.utils.timezone.{name}` attribute is deprecated. Please use `'airflow.sdk.timezone.{name}'`."
    )


START = "2026-11-25T20:00:17Z [info     ] [DAG TEST] starting task_id={} map_index=-1 [airflow.sdk.definitions.dag]"
END = "2026-11-25T20:00:19Z [info     ] [DAG TEST] end task task_id={} map_index=-1 [airflow.sdk.definitions.dag]"


def test_a_warning_flood_about_many_names_is_caught():
    flood = "\n".join([_warning(n) for n in ("agm", "psi", "jv", "zetac", "yve", "i0", "k1", "erf", "gamma", "ndtr")])
    assert offenders("\n".join([START.format("score"), flood, END.format("score")])) == []  # ten is the limit
    assert offenders("\n".join([flood, _warning("expit")])) == []  # not in a task: the DAG run's own lines
    found = offenders("\n".join([START.format("score"), flood, _warning("expit"), END.format("score")]), "x.log")
    assert found and found[0].startswith("x.log score: 11x ") and "attribute is deprecated" in found[0]


def test_a_long_task_log_is_caught_per_task():
    lines = [f"step {i}: loaded {i * 7} rows from table_{i % 3} [ours]" for i in range(100)]
    two_tasks = "\n".join([START.format("a"), *lines, END.format("a"), START.format("b"), *lines, END.format("b")])
    assert [p for p in offenders(two_tasks) if "lines" in p] == []  # 204 lines, but 102 per task
    long = "\n".join([START.format("a"), *lines, *lines])  # a task that never ended (killed, timed out)
    assert any("a (unfinished): 201 lines" in p for p in offenders(long))


def test_loading_a_model_under_airflow_prints_no_skops_flood(tmp_path):
    """Importing skops scans sys.modules and touches each deprecated ``airflow.*`` alias: ~1,200 warnings in
    a score task's log. Loading a model through our hook shows none of them; a bare import shows the flood."""
    model = tmp_path / "model.skops"
    make = (
        "import sys, skops.io; from sklearn.pipeline import make_pipeline; from sklearn.preprocessing import "
        "StandardScaler; from sklearn.linear_model import Ridge; import numpy as np; "
        "skops.io.dump(make_pipeline(StandardScaler(), Ridge()).fit(np.eye(3), [1, 2, 3]), sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", make, str(model)], check=True)
    count = (
        "import sys, warnings; import airflow.models, airflow.sdk, airflow.utils.timezone, airflow.utils.trigger_rule\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    {load}\n"
        "print(sum(type(w.message).__name__ == 'DeprecatedImportWarning' for w in seen))\n"
    )
    ours = "from pathlib import Path; from airflow_mlops.hooks.model_artifact import load_skops; "
    ours += "load_skops(Path(sys.argv[1]), 'm')"
    runs = {
        name: subprocess.run(
            [sys.executable, "-c", count.format(load=load), str(model)], capture_output=True, text=True, check=True
        )
        for name, load in {"ours": ours, "bare": "import skops.io"}.items()
    }
    assert int(runs["bare"].stdout.split()[-1]) > 100  # the flood is real without the fix
    assert int(runs["ours"].stdout.split()[-1]) == 0, runs["ours"].stdout[-2000:]
