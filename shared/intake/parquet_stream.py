"""Parquet as raw batches. A Parquet file is read from its footer, so the content is first written to a
local file (`workdir`); it is then read in batches of rows, every schema column as its string form.

Column names are trimmed and lower-cased like CSV headers (a repeat is DUPLICATE_COLUMN). A nested
column (list, struct, array) gives the NESTED marker for each of its values, which validation rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from shared.intake.csv_stream import RawBatch, column_positions
from shared.intake.errors import QuarantineError
from shared.intake.schema import KindSchema
from shared.intake.validation import NESTED, SOURCE_ROW

PARQUET_MAGIC = b"PAR1"
BATCH_ROWS = 100_000
_ERRORS = (pl.exceptions.PolarsError, OSError, ValueError, OverflowError)


def _as_string(name: str, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(name)
    if dtype.is_nested():
        return pl.when(value.is_null()).then(None).otherwise(pl.lit(NESTED)).alias(name)
    if dtype == pl.Boolean:
        return pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false")).alias(name)
    return value.cast(pl.String).alias(name)


def parquet_batches(content: Iterator[bytes], schema: KindSchema, workdir: Path) -> Iterator[RawBatch]:
    """Every row of a Parquet file's content, as strings, in order."""
    path = workdir / "landed.parquet"
    with path.open("wb") as handle:
        for chunk in content:
            handle.write(chunk)
    try:
        lazy = pl.scan_parquet(path)
        found = lazy.collect_schema()
    except _ERRORS:
        raise QuarantineError("UNREADABLE", "not a readable parquet file") from None
    names = list(found.names())
    positions = column_positions(names, schema)
    columns = [
        _as_string(names[positions[n]], found[names[positions[n]]]).alias(n)
        if n in positions
        else pl.lit(None, pl.String).alias(n)
        for n in schema.names
    ]
    rows = 0
    try:
        for batch in lazy.select(columns).collect_batches(chunk_size=BATCH_ROWS):
            height = batch.height
            if not height:
                continue
            start = rows + 1
            rows += height
            yield RawBatch(
                batch.select(
                    pl.int_range(start, start + height, dtype=pl.Int64).alias(SOURCE_ROW), *schema.names
                ),
                padded=True,
            )
    except _ERRORS:
        raise QuarantineError("UNREADABLE", "not a readable parquet file") from None
    finally:
        path.unlink(missing_ok=True)
    if rows == 0:
        raise QuarantineError("EMPTY_FILE", "file has no data rows")
