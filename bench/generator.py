"""How fast the synthetic claims generator writes a medical claims file."""

from __future__ import annotations

from bench.registry import BenchContext, Figure, benchmark, measure
from cli.generate import generate_claims_file


@benchmark("generator", order=10)
def generator_throughput(ctx: BenchContext) -> Figure:
    lines = ctx.claim_lines
    path = ctx.claims_file_path(lines)
    with measure() as timing:
        generate_claims_file(path, lines)
    # The file is the shared input of this run's ingest benchmarks: no need to write it twice.
    ctx.adopt_claims_file(path, lines)
    return Figure("generator_claim_lines_per_second", round(timing.per_second(lines)), "lines/s")
