"""Vectorized encoder of scored batches into PostgreSQL's binary COPY format.

psycopg's ``Copy.write_row`` formats one row at a time; for the fixed-width layout of a scores row with
a BIGINT entity, every row has the same byte layout, so a whole batch is one numpy structured array
(big-endian fields, the per-batch text constants pre-encoded once) turned into bytes with ``tobytes()``
and sent with ``Copy.write`` — the "block" mode psycopg documents for data already in COPY format.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from airflow_mlops.scoring.table import ScoreBatchKey

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since the Unix epoch
N_COLUMNS = 12


def _pg_micros(value) -> int:
    from airflow_mlops.scoring.table import utc

    dt = utc(value)
    return (int(dt.timestamp()) * 1_000_000 + dt.microsecond) - PG_EPOCH_US


def constant_tail(key: ScoreBatchKey) -> bytes:
    """The encoded text constants plus logical_date and scored_at: identical for every row of a write."""
    out = bytearray()
    for text in key.constants:
        data = text.encode()
        out += struct.pack("!i", len(data)) + data
    for stamp in (key.logical_date, key.scored_at):
        out += struct.pack("!iq", 8, _pg_micros(stamp))
    return bytes(out)


def row_dtype(tail_len: int, with_probability: bool) -> np.dtype:
    import numpy as np

    fields = [
        ("n", ">i2"),
        ("l0", ">i4"),
        ("row_id", ">i8"),
        ("l1", ">i4"),
        ("entity", ">i8"),
        ("l2", ">i4"),
        ("ts", ">i8"),
        ("l3", ">i4"),
        ("prediction", ">f8"),
        ("l4", ">i4"),
    ]
    if with_probability:
        fields.append(("probability", ">f8"))
    fields.append(("tail", "u1", (tail_len,)))
    return np.dtype(fields)


def timestamps_pg(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A timestamp column as µs since 2000-01-01 UTC (PostgreSQL's binary TIMESTAMPTZ)."""
    import pyarrow as pa

    micros = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return micros.to_numpy(zero_copy_only=False) - PG_EPOCH_US


def encode_batch(batch: pa.RecordBatch, tail: bytes) -> bytes:
    """Binary COPY rows (without signature/trailer) for a batch with an integer entity and no null keys."""
    import numpy as np

    n = batch.num_rows
    prob = batch.column("probability")
    with_prob = prob.null_count < n
    if with_prob and prob.null_count:
        raise ValueError("probability is null for some rows but not all")
    arr = np.empty(n, dtype=row_dtype(len(tail), with_prob))
    arr["n"] = N_COLUMNS
    arr["l0"] = arr["l1"] = arr["l2"] = arr["l3"] = 8
    arr["row_id"] = batch.column("row_id").to_numpy()
    arr["entity"] = batch.column("entity").to_numpy()
    arr["ts"] = timestamps_pg(batch.column("timestamp"))
    arr["prediction"] = batch.column("prediction").to_numpy(zero_copy_only=False)
    if with_prob:
        arr["l4"] = 8
        arr["probability"] = prob.to_numpy(zero_copy_only=False)
    else:
        arr["l4"] = -1
    arr["tail"] = np.frombuffer(tail, dtype=np.uint8)
    return arr.tobytes()
