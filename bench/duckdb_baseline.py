"""DuckDB CSV → Parquet on the shared claims file: the baseline ingest ratios are divided by."""

from __future__ import annotations

from bench.baselines import MEDICAL_CLAIMS_DUCKDB_TYPES, duckdb_csv_to_parquet_seconds
from bench.registry import BenchContext, Figure, benchmark


@benchmark("duckdb_baseline")
def duckdb_baseline(ctx: BenchContext) -> Figure:
    csv_path = ctx.claims_file()
    seconds = duckdb_csv_to_parquet_seconds(
        csv_path, ctx.data_dir / "duckdb_baseline.parquet", types=MEDICAL_CLAIMS_DUCKDB_TYPES
    )
    return Figure("duckdb_csv_to_parquet_lines_per_second", round(ctx.claim_lines / seconds), "lines/s")
