"""End-to-end ingest of the shared medical claims file against DuckDB's bare CSV → Parquet.

Ours runs in a child process with `POLARS_MAX_THREADS=1` (a Lambda function gets one core per
1,769 MB); DuckDB gets one thread too, so the ratio compares like with like. DuckDB on every core is
printed as well. Storage is faked in memory; DynamoDB write units are what the real tables would bill.

Also printed: the ceiling any polars ingest can reach (polars alone converting the file, no checks), and
where our seconds went by stage (intake = parse, validate, reconcile; evidence; versions = netting and
the packed gap-state writes; parquet; other = hash, reports, registry).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.baselines import MEDICAL_CLAIMS_DUCKDB_TYPES, csv_data_lines, duckdb_csv_to_parquet_seconds
from bench.registry import BenchContext, Figure, benchmark

ROOT = Path(__file__).resolve().parent.parent


def run_worker(csv_path: Path, *options: str) -> dict[str, object]:
    """Ingest `csv_path` in a fresh one-thread process (`--bare`: only convert it); its measurements."""
    env = os.environ | {
        "POLARS_MAX_THREADS": "1",
        "LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench._ingest_worker", *options, str(csv_path)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@benchmark("ingest", order=60)
def ingest(ctx: BenchContext) -> list[Figure]:
    csv_path = ctx.claims_file()
    parquet = ctx.data_dir / "ingest_duckdb_baseline.parquet"
    duckdb_one = duckdb_csv_to_parquet_seconds(
        csv_path, parquet, types=MEDICAL_CLAIMS_DUCKDB_TYPES, threads=1
    )
    duckdb_all = duckdb_csv_to_parquet_seconds(csv_path, parquet, types=MEDICAL_CLAIMS_DUCKDB_TYPES)
    parquet.unlink(missing_ok=True)
    ours = run_worker(csv_path)
    if ours["status"] != "ACCEPTED":
        raise RuntimeError("the benchmark file was not accepted")
    seconds = float(str(ours["seconds"]))
    floor = float(str(run_worker(csv_path, "--bare")["seconds"]))
    lines = csv_data_lines(csv_path)
    stages = {name: float(value) for name, value in dict(ours["stages"]).items()}  # type: ignore[call-overload]
    stages["other"] = max(seconds - sum(stages.values()), 0.0)
    return [
        Figure(
            "ingest_throughput_ratio", round(duckdb_one / seconds, 3), "x (DuckDB 1 thread / ours 1 thread)"
        ),
        Figure("ingest_throughput_ratio_vs_duckdb_all_cores", round(duckdb_all / seconds, 3), "x"),
        Figure("ingest_seconds", round(seconds, 3), "s"),
        Figure("ingest_lines_per_second", round(lines / seconds), "lines/s"),
        Figure("ingest_peak_rss_mb", round(float(str(ours["peak_rss_mb"]))), "MB"),
        Figure(
            "dynamodb_write_units_per_1000_claim_lines",
            round(int(str(ours["write_units"])) * 1000 / lines, 2),
            "WCU",
        ),
        # The floor: polars converting the file with no checks at all, in the same kind of process. A
        # validated ingest cannot beat the conversion inside it, so this ratio bounds the one above.
        Figure("polars_csv_to_parquet_seconds", round(floor, 3), "s (1 thread, typed read + snappy write)"),
        Figure(
            "ingest_throughput_ratio_ceiling",
            round(duckdb_one / floor, 3),
            "x (DuckDB 1 thread / polars bare)",
        ),
        *(
            Figure(f"ingest_stage_{name}_seconds", round(value, 3), "s")
            for name, value in sorted(stages.items())
        ),
        Figure("duckdb_csv_to_parquet_seconds", round(duckdb_one, 3), "s (1 thread)"),
        Figure("duckdb_csv_to_parquet_seconds_all_cores", round(duckdb_all, 3), "s"),
    ]
