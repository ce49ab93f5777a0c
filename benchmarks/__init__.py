"""Benchmarks. ``./dev bench`` (or ``python -m benchmarks``) runs every ``bench_*.py`` module here.

Each module has ``run(quick: bool) -> list[dict]``; a row has ``benchmark``, ``case``, ``ours``,
``baseline`` (both already formatted with units), ``ratio`` (speed of ours relative to the baseline
measured in the same run: >1 is faster than the baseline) and an optional ``note``.
"""
