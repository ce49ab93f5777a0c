"""Run checks as a Great Expectations 1.x suite on a pandas DataFrame, in an ephemeral context.

Nothing is written to disk: the context, data source, suite and batch live in memory for one run.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_mlops.validation.checks import Check

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Loggers GX fills with INFO lines: ~200 on import once Airflow has configured logging, and one
#: ("Created temporary directory ... for ephemeral docs site") per ephemeral context from a logger
#: that GX itself sets to INFO on import.
NOISY_LOGGERS = (
    "great_expectations",
    "great_expectations._docs_decorators",
    "great_expectations.data_context.types.base",
)

#: dtype names GX 1.24's pandas type check accepts for each spec type. Object columns are checked value by
#: value (``str`` matches Python strings). Time-zone-aware columns cannot match any name in GX 1.24, so
#: :func:`gx_frame` hands them over as naive UTC.
TYPE_LISTS: dict[str, list[str]] = {
    "int": [
        *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
        *("Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype"),
        "UInt64Dtype",
    ],
    "float": ["float16", "float32", "float64", "Float32Dtype", "Float64Dtype"],
    "str": ["str", "StringDtype"],
    "bool": ["bool", "BooleanDtype"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}

#: How many example bad values GX keeps per expectation.
EXAMPLES = 5


def import_gx() -> Any:
    """``great_expectations``, imported with its import-time INFO chatter silenced."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations

    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return great_expectations


def gx_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with time-zone-aware datetime columns as naive UTC (a shallow copy; values are not copied)."""
    import pandas as pd

    aware = [c for c in df.columns if isinstance(df[c].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return df
    out = df.copy(deep=False)
    for column in aware:
        out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def expectation(check: Check) -> Any:
    """The GX expectation object for one check."""
    gxe = import_gx().expectations
    p, column = check.params, check.column
    match check.rule:
        case "exists":
            return gxe.ExpectColumnToExist(column=column)
        case "type":
            return gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=TYPE_LISTS[p["type"]])
        case "range":
            return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=p.get("min"), max_value=p.get("max"))
        case "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(column=column)
        case "allowed":
            return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=p["values"])
        case "unique":
            return gxe.ExpectColumnValuesToBeUnique(column=column)
        case "row_count":
            return gxe.ExpectTableRowCountToBeBetween(min_value=p.get("min"), max_value=p.get("max"))
        case "freshness":
            return gxe.ExpectColumnMaxToBeBetween(column=p.get("gx_column", column), min_value=p["threshold"])
        case "duplicate_key":
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(p["columns"]))
        case "not_future":
            return gxe.ExpectColumnValuesToBeBetween(column=column, max_value=p["limit"])
    raise ValueError(f"unknown rule {check.rule!r}")  # pragma: no cover


def runnable(checks: list[Check], columns: list[str]) -> list[Check]:
    """Checks that can run on a frame with ``columns``: a missing column is reported by its ``exists`` check alone."""
    present = set(columns)
    return [c for c in checks if c.rule == "exists" or present.issuperset(c.columns)]


def run_suite(df: pd.DataFrame, checks: list[Check], name: str = "validation") -> list[tuple[Check, Any]]:
    """Validate ``df`` against ``checks`` with GX; return each check with its ``ExpectationValidationResult``."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    started = time.perf_counter()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(f"{name}_frame")
        .add_batch_definition_whole_dataframe(f"{name}_batch")
    )
    suite = gx.ExpectationSuite(name=name)
    for index, check in enumerate(checks):
        item = expectation(check)
        item.meta = {"check": index}
        suite.add_expectation(item)
    suite = context.suites.add(suite)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": gx_frame(df)})
    outcome = batch.validate(suite, result_format={"result_format": "BASIC", "partial_unexpected_count": EXAMPLES})
    pairs = sorted(((r.expectation_config.meta["check"], r) for r in outcome.results), key=lambda pair: pair[0])
    pairs = [(checks[index], r) for index, r in pairs]
    log.debug("GX ran %d expectations on %d rows in %.2fs", len(pairs), len(df), time.perf_counter() - started)
    return pairs
