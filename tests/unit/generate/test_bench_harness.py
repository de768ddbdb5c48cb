from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from bench import REGISTRY, BenchContext, Figure, Registry
from bench.baselines import MEDICAL_CLAIMS_DUCKDB_TYPES, csv_data_lines, duckdb_csv_to_parquet_seconds
from bench.runner import discover, main
from cli.generate import generate_claims_file

LINE = re.compile(r"^(?P<name>[a-z_]+): (?P<value>-?[0-9.e+]+) (?P<unit>\S+)$")


def _tiny_registry(calls: list[str]) -> Registry:
    registry = Registry()

    @registry.benchmark("tiny_consumer")
    def consumer(ctx: BenchContext) -> Figure:
        calls.append("consumer")
        return Figure("tiny_ratio", 0.25, "x")

    @registry.benchmark("tiny_producer", order=1)
    def producer(ctx: BenchContext) -> list[Figure]:
        calls.append("producer")
        return [Figure("tiny_rows", ctx.size(1000, 10), "rows"), Figure("tiny_rate", 1234.6, "rows/s")]

    return registry


def test_harness_prints_one_line_per_figure_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two tiny registered benchmarks, one ordered to run first
    calls: list[str] = []
    out = tmp_path / "results.json"
    # WHEN the harness runs them in quick mode
    code = main(["--quick", "--out", str(out)], registry=_tiny_registry(calls))
    # THEN the producer runs first, each figure prints as `name: value unit`, and all are recorded
    assert code == 0
    assert calls == ["producer", "consumer"]
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["tiny_rows: 10 rows", "tiny_rate: 1235 rows/s", "tiny_ratio: 0.25 x"]
    assert all(LINE.match(line) for line in lines)
    entries = json.loads(out.read_text())
    assert {e["name"]: (e["value"], e["unit"]) for e in entries} == {
        "tiny_rows": (10, "rows"),
        "tiny_rate": (1234.6, "rows/s"),
        "tiny_ratio": (0.25, "x"),
    }
    assert all(set(e) == {"name", "value", "unit", "measured_at"} for e in entries)


def test_only_runs_the_named_benchmark_and_keeps_other_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a results file from an earlier full run
    out = tmp_path / "results.json"
    main(["--out", str(out)], registry=_tiny_registry([]))
    before = {e["name"]: e for e in json.loads(out.read_text())}
    capsys.readouterr()
    calls: list[str] = []
    # WHEN only one benchmark is run again
    code = main(["--only", "tiny_consumer", "--out", str(out)], registry=_tiny_registry(calls))
    # THEN only it runs and prints, and the other figures stay in the file as they were
    assert code == 0 and calls == ["consumer"]
    assert capsys.readouterr().out.splitlines() == ["tiny_ratio: 0.25 x"]
    after = {e["name"]: e for e in json.loads(out.read_text())}
    assert after["tiny_rows"] == before["tiny_rows"] and after["tiny_rows"]["value"] == 1000
    assert set(after) == set(before)


def test_unknown_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the tiny registry
    # WHEN a name that is not registered is asked for
    code = main(["--only", "nope", "--out", str(tmp_path / "r.json")], registry=_tiny_registry([]))
    # THEN the harness exits with a usage error and writes nothing
    assert code == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_a_failing_benchmark_does_not_hide_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a registry where one benchmark raises
    registry = _tiny_registry([])

    @registry.benchmark("broken")
    def broken(ctx: BenchContext) -> Figure:
        raise RuntimeError("boom")

    out = tmp_path / "results.json"
    # WHEN all run
    code = main(["--out", str(out)], registry=registry)
    # THEN the run fails overall but the other figures are printed and recorded
    assert code == 1
    assert "broken" in capsys.readouterr().err
    assert {e["name"] for e in json.loads(out.read_text())} == {"tiny_rows", "tiny_rate", "tiny_ratio"}


def test_modules_under_bench_register_themselves() -> None:
    # GIVEN the bench package
    # WHEN its modules are discovered
    modules = discover()
    # THEN the generator and DuckDB baseline benchmarks are registered, generator first
    assert {"generator", "duckdb_baseline"} <= set(modules)
    names = REGISTRY.names()
    assert names.index("generator") < names.index("duckdb_baseline")


def test_duckdb_baseline_converts_the_whole_file(tmp_path: Path) -> None:
    # GIVEN a small generated claims file
    csv_path = generate_claims_file(tmp_path / "claims.csv", lines=2000)
    parquet_path = tmp_path / "claims.parquet"
    # WHEN DuckDB's CSV to Parquet time is measured with the claims types
    seconds = duckdb_csv_to_parquet_seconds(
        csv_path, parquet_path, types=MEDICAL_CLAIMS_DUCKDB_TYPES, threads=1
    )
    # THEN it took some time and the Parquet file holds every line, codes kept as strings
    assert seconds > 0
    assert csv_data_lines(csv_path) == 2000
    with duckdb.connect() as con:
        rows, code_type = con.execute(
            "SELECT count(*), any_value(typeof(hcpcs_code)) FROM read_parquet(?)", [str(parquet_path)]
        ).fetchone()  # type: ignore[misc]
    assert rows == 2000 and code_type == "VARCHAR"


def test_the_ingest_worker_times_the_real_service_by_stage_and_the_bare_floor(tmp_path: Path) -> None:
    # GIVEN a small generated claims file
    import shared.services.ingest as ingest_module
    from bench import _ingest_worker as worker
    from shared.intake.spill import PeriodSpill

    csv_path = generate_claims_file(tmp_path / "claims.csv", lines=3000)
    stage_file, sink = ingest_module.stage_file, PeriodSpill.sink
    # WHEN the worker ingests it, and times polars' bare conversion of it
    measured = worker.main(csv_path)
    floor = worker.bare(csv_path)
    # THEN the file was accepted, every stage ran and took part of the whole, and nothing stays patched
    stages = measured["stages"]
    assert measured["status"] == "ACCEPTED"
    assert isinstance(stages, dict) and set(stages) == {"intake", "parquet", "evidence", "versions"}
    assert all(value > 0 for value in stages.values())
    assert sum(stages.values()) < float(str(measured["seconds"]))
    assert ingest_module.stage_file is stage_file and PeriodSpill.sink is sink
    assert 0 < int(str(measured["accepted"])) <= 3000 and float(str(measured["peak_rss_mb"])) > 0
    # AND the bare conversion read every line
    assert floor["rows"] == 3000 and float(str(floor["seconds"])) > 0
