"""End-to-end ingest of generated medical claims files against DuckDB's bare CSV → Parquet.

Ours runs in a child process (`bench._ingest_worker`), objects on local disk, DynamoDB's items in a
local SQLite file, write units metered as the real tables would bill them.

- **Ratios** on the shared claims file (1M lines; 100k with --quick): DuckDB on all cores against ours on
  all cores (a 10 GB Lambda function has 6 vCPUs), and DuckDB on one thread against ours with
  `POLARS_MAX_THREADS=1`. The one-thread run also gives where our seconds went by stage (intake = parse,
  validate, reconcile; evidence; versions = netting and the packed gap-state writes; parquet = the
  curated and evidence-log writes; other = hash, reading member groups back, a curated spill, reports,
  registry) and the ceiling any polars ingest can reach (polars alone converting the
  file, no checks).
- **Scale**: 1M, 4M and 16M-line files (5k, 20k and 80k with --quick) on all cores: peak RSS and
  seconds (wall and CPU) per million lines at each size, and the largest size's seconds per million
  over the smallest's. The larger files are written in 1M-line parts (`bench._large_claims`), each
  deleted once measured.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._dynamodb_stub import client_cpu_ms_per_request
from bench._large_claims import write_claims_in_parts
from bench.baselines import MEDICAL_CLAIMS_DUCKDB_TYPES, csv_data_lines, duckdb_csv_to_parquet_seconds
from bench.registry import BenchContext, Figure, benchmark

ROOT = Path(__file__).resolve().parent.parent
BATCH_WRITE_WAIT_MS = 10
"""Assumed round trip of one BatchWriteItem from Lambda (same region): `batch_put` sends them one by one."""
FAN_OUT_LINES = 50_000_000
"""The month the fan-out is projected for (a 12.5M-member plan's claims)."""
SHARDS_AT_ONCE = 25
"""The fan-out map's MaxConcurrency (infra/state_machines/ingest_fan_out.asl.json)."""
SHARD_LINES = 1_000_000
"""Lines per shard (`shared.intake.shards.SHARD_LINES`)."""
SCALE = (1, 4, 16)
"""File sizes measured, in multiples of the base size (1M lines; 5k with --quick)."""


def run_worker(
    csv_path: Path, *options: str, threads: int | None = 1, module: str = "bench._ingest_worker"
) -> dict[str, object]:
    """Ingest `csv_path` in a fresh process of `module` with `threads` polars threads (None: all cores;
    `--bare`: only convert it); its measurements."""
    env = os.environ | {"LOG_LEVEL": "WARNING", "POWERTOOLS_TRACE_DISABLED": "true"}
    env.pop("POLARS_MAX_THREADS", None)
    if threads is not None:
        env["POLARS_MAX_THREADS"] = str(threads)
    done = subprocess.run(
        [sys.executable, "-m", module, *options, str(csv_path)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    if "status" in result and result["status"] != "ACCEPTED":
        raise RuntimeError("the benchmark file was not accepted")
    return result


def _number(measured: dict[str, object], name: str) -> float:
    return float(str(measured[name]))


def _requests_figure(measured: dict[str, object], lines: int) -> Figure:
    """DynamoDB requests per 1,000 lines, by kind: what a function's time on DynamoDB is made of."""
    requests = {str(k): int(v) for k, v in dict(measured["dynamodb_requests"]).items()}  # type: ignore[call-overload]
    parts = ", ".join(f"{name} {count * 1000 / lines:.2f}" for name, count in sorted(requests.items()))
    return Figure(
        "dynamodb_requests_per_1000_claim_lines",
        round(sum(requests.values()) * 1000 / lines, 2),
        f"requests ({parts})",
    )


def _lambda_projection(ctx: BenchContext, measured: dict[str, object], lines: int) -> list[Figure]:
    """boto3's CPU per request, and the seconds per million lines a function would take: the one-thread
    run's CPU, plus the client CPU of its DynamoDB requests (one GIL: more threads do not spread it), plus
    the wait of its batch writes, sent one after another."""
    cpu_ms = client_cpu_ms_per_request(ctx.size(2000, 300), ctx.size(400, 60))
    requests = {str(k): int(v) for k, v in dict(measured["dynamodb_requests"]).items()}  # type: ignore[call-overload]
    writes = requests.get("batch_write", 0)
    client = requests.get("query", 0) * cpu_ms["query"] + requests.get("put", 0) * cpu_ms["query"]
    client += writes * (cpu_ms["batch_write"] + BATCH_WRITE_WAIT_MS)
    per_million = (_number(measured, "cpu_seconds") + client / 1000) * 1_000_000 / lines
    return [
        Figure("dynamodb_client_cpu_ms_per_query", round(cpu_ms["query"], 2), "ms (boto3, 16 threads, stub)"),
        Figure(
            "dynamodb_client_cpu_ms_per_batch_write",
            round(cpu_ms["batch_write"], 2),
            "ms (25 items of 6 KB, boto3, 16 threads, stub)",
        ),
        Figure(
            "ingest_projected_lambda_seconds_per_million_lines",
            round(per_million, 1),
            f"s (CPU of the 1-thread run + boto3 CPU per request + {BATCH_WRITE_WAIT_MS} ms per batch write)",
        ),
    ]


def size_name(lines: int) -> str:
    """`16m` for 16,000,000 lines, `40k` for 40,000: the suffix of a size's figures."""
    if lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}m"
    if lines % 1000 == 0:
        return f"{lines // 1000}k"
    return str(lines)


@benchmark("ingest", order=60)
def ingest(ctx: BenchContext) -> list[Figure]:
    csv_path = ctx.claims_file()
    parquet = ctx.data_dir / "ingest_duckdb_baseline.parquet"
    duckdb_one = duckdb_csv_to_parquet_seconds(
        csv_path, parquet, types=MEDICAL_CLAIMS_DUCKDB_TYPES, threads=1
    )
    duckdb_all = duckdb_csv_to_parquet_seconds(csv_path, parquet, types=MEDICAL_CLAIMS_DUCKDB_TYPES)
    parquet.unlink(missing_ok=True)
    one = run_worker(csv_path)
    seconds = _number(one, "seconds")
    floor = _number(run_worker(csv_path, "--bare"), "seconds")
    lines = csv_data_lines(csv_path)
    stages = {name: float(value) for name, value in dict(one["stages"]).items()}  # type: ignore[call-overload]
    stages["other"] = max(seconds - sum(stages.values()), 0.0)
    all_cores = run_worker(csv_path, threads=None)
    sizes = [ctx.size(1_000_000, 5_000) * n for n in SCALE]
    scale = scale_figures(ctx, sizes, measured={lines: all_cores})
    all_seconds = _number(all_cores, "seconds")
    projected = next(f for f in _lambda_projection(ctx, one, lines) if f.name.startswith("ingest_projected"))
    return [
        *fan_out_figures(ctx, csv_path, lines, all_seconds, float(projected.value)),
        Figure(
            "ingest_throughput_ratio_vs_duckdb_all_cores",
            round(duckdb_all / all_seconds, 3),
            f"x (DuckDB / ours, both on all {ctx.cores} cores)",
        ),
        Figure(
            "ingest_throughput_ratio", round(duckdb_one / seconds, 3), "x (DuckDB 1 thread / ours 1 thread)"
        ),
        Figure("ingest_seconds_all_cores", round(all_seconds, 3), "s"),
        Figure("ingest_seconds", round(seconds, 3), "s (1 thread)"),
        Figure("ingest_lines_per_second", round(lines / seconds), "lines/s (1 thread)"),
        Figure("ingest_peak_rss_mb", round(_number(one, "peak_rss_mb")), "MB (1 thread)"),
        Figure(
            "dynamodb_write_units_per_1000_claim_lines",
            round(int(str(one["write_units"])) * 1000 / lines, 2),
            "WCU",
        ),
        _requests_figure(one, lines),
        *_lambda_projection(ctx, one, lines),
        # The floor: polars converting the file with no checks at all, in the same kind of process. A
        # validated ingest cannot beat the conversion inside it, so this ratio bounds the one above.
        Figure("polars_csv_to_parquet_seconds", round(floor, 3), "s (1 thread, typed read + snappy write)"),
        Figure(
            "ingest_throughput_ratio_ceiling",
            round(duckdb_one / floor, 3),
            "x (DuckDB 1 thread / polars bare)",
        ),
        *(
            Figure(f"ingest_stage_{name}_seconds", round(value, 3), "s (1 thread)")
            for name, value in sorted(stages.items())
        ),
        Figure("duckdb_csv_to_parquet_seconds", round(duckdb_one, 3), "s (1 thread)"),
        Figure("duckdb_csv_to_parquet_seconds_all_cores", round(duckdb_all, 3), "s"),
        *scale,
    ]


def scale_figures(
    ctx: BenchContext, sizes: list[int], *, measured: dict[int, dict[str, object]]
) -> list[Figure]:
    """Per size, on all cores: peak RSS and seconds per million lines; then the largest size's seconds per
    million over the smallest's. A size in `measured` (lines → the worker's result) is not run again; any
    other is written in parts of the smallest size, ingested and deleted."""
    figures: list[Figure] = []
    per_million: dict[int, float] = {}
    for lines in sizes:
        result = measured.get(lines)
        if result is None:
            path = write_claims_in_parts(
                ctx.data_dir / f"medical_claims-{lines}-parts.csv", lines, part_lines=sizes[0]
            )
            try:
                result = run_worker(path, threads=None)
            finally:
                path.unlink(missing_ok=True)
        seconds, cpu = _number(result, "seconds"), _number(result, "cpu_seconds")
        per_million[lines] = seconds * 1_000_000 / lines
        name = size_name(lines)
        figures += [
            Figure(f"ingest_peak_rss_mb_{name}_lines", round(_number(result, "peak_rss_mb")), "MB"),
            Figure(f"ingest_seconds_per_million_lines_{name}_lines", round(per_million[lines], 2), "s"),
            Figure(
                f"ingest_cpu_seconds_per_million_lines_{name}_lines",
                round(cpu * 1_000_000 / lines, 2),
                "s of CPU (all threads)",
            ),
        ]
    first, last = sizes[0], sizes[-1]
    figures.append(
        Figure(
            f"ingest_seconds_per_million_lines_{size_name(last)}_over_{size_name(first)}",
            round(per_million[last] / per_million[first], 3),
            "x",
        )
    )
    return figures


def fan_out_figures(
    ctx: BenchContext, csv_path: Path, lines: int, one_function_seconds: float, lambda_per_million: float
) -> list[Figure]:
    """The fan-out's steps on the same file (`bench._fan_out_worker`: the split in one process, the shards
    in one process per core at once), and the 50M-line month projected on Lambda from them: the split as
    measured (one function streams the whole file), the shards at `lambda_per_million` each (a shard is a
    million lines, and its time on Lambda is its DynamoDB requests), `SHARDS_AT_ONCE` at a time."""
    measured: dict[str, Any] = run_worker(
        csv_path, str(ctx.cores), threads=None, module="bench._fan_out_worker"
    )
    millions = lines / 1_000_000
    split_per_million = measured["split_seconds"] / millions
    shards = math.ceil(FAN_OUT_LINES / SHARD_LINES)
    waves = math.ceil(shards / SHARDS_AT_ONCE)
    split_50m = split_per_million * FAN_OUT_LINES / 1_000_000
    wall_50m = split_50m + waves * lambda_per_million * SHARD_LINES / 1_000_000
    return [
        Figure(
            "ingest_fan_out_seconds_all_cores",
            round(measured["seconds"], 2),
            f"s (split, {len(measured['shard_seconds'])} shards on {ctx.cores} cores at once, finish; "
            f"one function: {one_function_seconds:.1f} s)",
        ),
        Figure(
            "ingest_fan_out_split_seconds_per_million_lines",
            round(split_per_million, 2),
            f"s ({measured['split_cpu_seconds'] / millions:.1f} s of CPU, all threads)",
        ),
        Figure(
            "ingest_fan_out_shard_seconds_per_million_lines",
            round(sum(measured["shard_seconds"]) / millions, 2),
            f"s (summed over shards, {ctx.cores} at once on {ctx.cores} cores)",
        ),
        Figure(
            "ingest_fan_out_staged_mb_per_million_lines",
            round(measured["staged_bytes"] / 1024**2 / millions),
            "MB (the split's shards, LZ4 Parquet of strings: what its local disk and staging/ hold)",
        ),
        Figure(
            "ingest_fan_out_finish_seconds",
            round(measured["finish_seconds"], 3),
            "s (one manifest, one report)",
        ),
        Figure(
            "ingest_50m_lines_projected_split_seconds",
            round(split_50m),
            "s in one function (Lambda's limit: 900 s)",
        ),
        Figure(
            "ingest_50m_lines_projected_lambda_minutes",
            round(wall_50m / 60, 1),
            f"min (split, then {shards} shards in {waves} waves of {SHARDS_AT_ONCE} at "
            f"{lambda_per_million:.0f} s per million lines)",
        ),
    ]
