"""Run the benchmarks and print one table (also written to benchmarks/RESULTS.md).

The table replaces only the part of RESULTS.md before its first ``## `` / ``### `` heading: the sections below it
(longer write-ups of single benchmarks, measured with their own options) are kept.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _kept_sections(path: Path) -> str:
    """The hand-written sections of ``path`` (from its first Markdown heading on), with a blank line before."""
    if not path.is_file():
        return ""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("#"):
            return "\n" + "".join(lines[i:])
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", nargs="*", help="benchmark modules to run, e.g. bench_parse")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="where to write the Markdown table")
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="mlops-bench-airflow-"))
    os.environ.setdefault("AIRFLOW_MLOPS_HOME", tempfile.mkdtemp(prefix="mlops-bench-home-"))
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only]
    rows, failed = [], 0
    for name in names:
        t0 = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows += importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append({"benchmark": name, "case": "FAILED", "ours": "-", "baseline": "-", "ratio": None})
        print(f"  {name}: {time.monotonic() - t0:.1f}s", file=sys.stderr)
    header = "| benchmark | case | ours | baseline (same run) | ratio | note |\n|---|---|---|---|---|---|"
    lines = [
        f"| {r['benchmark']} | {r['case']} | {r['ours']} | {r['baseline']} | {_ratio(r.get('ratio'))} | "
        f"{r.get('note', '')} |"
        for r in rows
    ]
    stamp = f"Measured {datetime.now(UTC):%Y-%m-%d} on {_machine()}{' (quick sizes)' if args.quick else ''}."
    table = "\n".join([stamp, "", header, *lines])
    print(table)
    out = Path(args.out)
    out.write_text(table + "\n" + _kept_sections(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
