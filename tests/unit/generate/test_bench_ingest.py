"""The ingest benchmark's inputs and scale figures: large files in parts, the gap state on disk."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

import bench.ingest as ingest_bench
from bench._disk_tables import DiskClaimVersionRepository, DiskGapStateRepository, connect
from bench._large_claims import write_claims_in_parts
from bench.registry import BenchContext
from cli.generate import generate_claims_file
from shared.dal.claim_versions import ClaimVersionRepository
from shared.dal.gap_state import GapStateRepository
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryObjectStore,
    WriteMeter,
)
from shared.intake.source import MAX_FILE_BYTES
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestOutcome, IngestService

ROOT = Path(__file__).resolve().parents[3]
GENERATED_LINE_BYTES = 161.6
"""Bytes per line of the generated medical claims file (161,635,004 for 1M lines)."""


def test_a_file_in_parts_starts_with_the_generators_file_and_its_parts_share_no_member_or_claim(
    tmp_path: Path,
) -> None:
    # GIVEN a 3,000-line claims file written in 1,000-line parts
    path = write_claims_in_parts(tmp_path / "parts.csv", 3000, part_lines=1000)
    # WHEN it is read back
    frame = pl.read_csv(path, infer_schema=False)
    # THEN it has every line under one header, its first part is the generator's own file byte for byte
    assert frame.height == 3000
    single = generate_claims_file(tmp_path / "one.csv", lines=1000).read_bytes()
    assert path.read_bytes().startswith(single)
    # AND no member or claim is in two parts
    part = pl.int_range(pl.len()) // 1000
    for column in ("member_id", "claim_id"):
        owners = frame.select(column, part.alias("part")).unique().group_by(column).len()
        assert owners.get_column("len").max() == 1


def _ingest(
    tmp_path: Path,
    gaps: GapStateRepository,
    versions: ClaimVersionRepository | None,
    meter: WriteMeter,
    **limits: int,
) -> IngestOutcome:
    store = MemoryObjectStore()
    store.put_bytes("landing", "landing/medical_claims/c.csv", (tmp_path / "c.csv").read_bytes())
    service = IngestService(
        store=store,
        files=MemoryFileRegistry(meter),
        gaps=gaps,
        catalog=load_catalog(),
        curated_bucket="curated",
        reports_bucket="reports",
        versions=versions,
        **limits,
    )
    return service.ingest("landing", "landing/medical_claims/c.csv")


def test_the_gap_state_on_disk_meters_and_keeps_what_the_memory_fake_does(tmp_path: Path) -> None:
    # GIVEN a claims file with replacements and voids
    generate_claims_file(tmp_path / "c.csv", lines=4000)
    # WHEN it is ingested once with the in-memory gap state and once with the one on disk
    memory_meter, disk_meter = WriteMeter(), WriteMeter()
    memory = MemoryGapStateRepository(memory_meter)
    memory_versions = MemoryClaimVersionRepository(memory)
    _ingest(tmp_path, memory, memory_versions, memory_meter)
    db, requests = connect(tmp_path / "tables.sqlite"), Counter[str]()
    disk = DiskGapStateRepository(db, disk_meter, requests)
    disk_versions = DiskClaimVersionRepository(db, disk_meter, requests)
    _ingest(tmp_path, disk, disk_versions, disk_meter)
    # THEN both billed the same write units and hold the same evidence and versions
    assert disk_meter.units == memory_meter.units and disk_meter.units["claim_versions"] > 0
    members = sorted({member for member, _ in memory.evidence})
    assert all(disk.evidence_of(m) == memory.evidence_of(m) for m in members)
    assert disk_versions.versions_of(members) == memory_versions.versions_of(members)
    # AND the requests DynamoDB would have served are counted: a batch per 25 items, a query per member
    assert requests["batch_write"] >= math.ceil(len(members) / 25) and requests["query"] >= len(members)


def test_the_scale_figures_name_each_size_and_delete_the_files_they_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker that takes a second per 1,000 lines, and one size already measured
    ingested: list[Path] = []

    def worker(path: Path, *options: str, threads: int | None = 1) -> dict[str, object]:
        ingested.append(path)
        lines = pl.read_csv(path, infer_schema=False).height
        return {"seconds": lines / 1000, "cpu_seconds": lines / 500, "peak_rss_mb": 300.0}

    monkeypatch.setattr(ingest_bench, "run_worker", worker)
    ctx = BenchContext(quick=True, data_dir=tmp_path)
    known: dict[str, object] = {"seconds": 0.5, "cpu_seconds": 1.0, "peak_rss_mb": 200.0}
    # WHEN the scale figures are taken for 500, 2,000 and 8,000 lines
    figures = {
        f.name: f.value for f in ingest_bench.scale_figures(ctx, [500, 2000, 8000], measured={500: known})
    }
    # THEN the measured size is not run again, the others are written, run on all cores and deleted
    assert [p.name for p in ingested] == ["medical_claims-2000-parts.csv", "medical_claims-8000-parts.csv"]
    assert not list(tmp_path.glob("*.csv"))
    # AND each size has its peak RSS and seconds per million lines; the largest is set against the smallest
    assert figures["ingest_peak_rss_mb_500_lines"] == 200 and figures["ingest_peak_rss_mb_8k_lines"] == 300
    assert figures["ingest_seconds_per_million_lines_2k_lines"] == 1000
    assert figures["ingest_cpu_seconds_per_million_lines_8k_lines"] == 2000
    assert figures["ingest_seconds_per_million_lines_8k_over_500"] == 1.0


def test_the_worker_reports_its_own_peak_memory_not_its_parents() -> None:
    # GIVEN a process holding 300 MB, as the benchmark does once it has generated a large file
    held = bytearray(300 * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])
    # WHEN it starts a fresh process that reads its peak memory as the worker does
    script = "from bench._ingest_worker import peak_rss_mb; print(peak_rss_mb())"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    # THEN the child's peak is its own (Linux carries ru_maxrss over from the parent; VmHWM starts afresh)
    assert float(done.stdout) < 250
    del held


def test_the_intake_takes_no_file_larger_than_one_function_ingests_in_its_fifteen_minutes() -> None:
    # GIVEN the last benchmark's projection of a function's seconds per million claim lines
    figures = {e["name"]: e["value"] for e in json.loads((ROOT / "bench" / "results.json").read_text())}
    per_million = float(figures["ingest_projected_lambda_seconds_per_million_lines"])
    # WHEN the largest file the intake takes is made of generated claim lines
    lines = MAX_FILE_BYTES / GENERATED_LINE_BYTES
    # THEN it is projected to finish within the ingest function's timeout (infra: 15 minutes)
    assert lines / 1_000_000 * per_million <= 15 * 60


def test_the_service_quarantines_past_its_limit_and_the_benchmark_sets_its_limit_past_16m_lines(
    tmp_path: Path,
) -> None:
    # GIVEN a claims file, and a service taking files of half its size
    from bench import _ingest_worker as worker

    generate_claims_file(tmp_path / "c.csv", lines=3000)
    size = (tmp_path / "c.csv").stat().st_size
    meter = WriteMeter()
    # WHEN the file is ingested
    outcome = _ingest(tmp_path, MemoryGapStateRepository(meter), None, meter, max_file_bytes=size // 2)
    # THEN it is quarantined TOO_LARGE
    assert outcome.reason == "TOO_LARGE"
    # AND the benchmark's service takes the 16M-line file, past the intake's own limit
    assert worker.BENCH_MAX_FILE_BYTES > 16_000_000 * GENERATED_LINE_BYTES > MAX_FILE_BYTES
