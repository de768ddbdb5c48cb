"""Benchmark harness: `python -m bench [--only NAME] [--quick] [--list] [--out PATH]`.

Adding a benchmark never touches the harness: drop a module into `bench/` (any name not starting with
`_`; the harness imports every one) and register a function of a `BenchContext`:

    from bench import BenchContext, Figure, benchmark, measure

    @benchmark("gap_engine")
    def gap_engine(ctx: BenchContext) -> list[Figure]:
        members = ctx.size(100_000, 5_000)          # --quick runs the small size
        with measure() as t:
            ...                                      # the work being measured
        return [Figure("gap_engine_members_per_second_per_core", t.per_cpu_second(members), "members/s/core")]

Each figure prints as `name: value unit` and is merged by name into `bench/results.json` (a list of
`{name, value, unit, measured_at}`; `--quick` runs go to `bench/data/results-quick.json` instead).
A ratio is measured against its baseline inside the same benchmark call, e.g. the ingest benchmark
times `bench.baselines.duckdb_csv_to_parquet_seconds(ctx.claims_file(), ...)` next to its own run and
returns only the ratio's figure (plus the parts, if useful). `ctx.claims_file()` is the shared medical
claims CSV (1M lines; 100k with --quick), generated once per run under the git-ignored `bench/data/`.
`order=` on `@benchmark` runs input producers first (the generator benchmark uses 10; default 50).
"""

from bench.registry import REGISTRY, BenchContext, Figure, Registry, Timing, benchmark, measure

__all__ = ["REGISTRY", "BenchContext", "Figure", "Registry", "Timing", "benchmark", "measure"]
