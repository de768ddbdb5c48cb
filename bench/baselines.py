"""Reference timings that our own throughput figures are divided by, measured in the same run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from bench.registry import measure
from cli.generate.claims import CLAIM_COLUMNS

_DATES = {
    "claim_start_date",
    "claim_end_date",
    "received_date",
    "paid_date",
    "admission_date",
    "discharge_date",
}
_AMOUNTS = {"allowed_amount", "paid_amount"}
# The medical_claims schema of docs/file-specs.md in DuckDB types: codes stay strings, as in our ingest.
MEDICAL_CLAIMS_DUCKDB_TYPES: dict[str, str] = {
    column: (
        "DATE"
        if column in _DATES
        else "DECIMAL(12,2)"
        if column in _AMOUNTS
        else "INTEGER"
        if column == "claim_line_number"
        else "VARCHAR"
    )
    for column in CLAIM_COLUMNS
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_csv_to_parquet_seconds(
    csv_path: Path,
    parquet_path: Path,
    *,
    types: Mapping[str, str] | None = None,
    threads: int | None = None,
) -> float:
    """Wall seconds for DuckDB to read a CSV (header row) and write it as one Parquet file.

    `types` pins column types (e.g. `MEDICAL_CLAIMS_DUCKDB_TYPES`), otherwise DuckDB sniffs them;
    `threads` caps DuckDB's threads (default: all cores) so a ratio can compare like with like.
    Only the COPY is timed, not connecting.
    """
    parquet_path.parent.mkdir(parents=True, exist_ok=True)
    parquet_path.unlink(missing_ok=True)
    options = "header = true"
    if types:
        pairs = ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in types.items())
        options += f", types = {{{pairs}}}"
    sql = (
        f"COPY (SELECT * FROM read_csv({_quote(str(csv_path))}, {options})) "
        f"TO {_quote(str(parquet_path))} (FORMAT parquet)"
    )
    with duckdb.connect() as con:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        with measure() as timing:
            con.execute(sql)
    return timing.wall_seconds


def csv_data_lines(csv_path: Path) -> int:
    """Data lines of a CSV with a header row and no embedded newlines (our generated files)."""
    with csv_path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1
