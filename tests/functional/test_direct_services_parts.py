"""Element 1's direct-services report is built by the quarterly run's parts, each from its buckets' members'
claims, and summed when the run's reports are written: the same report whatever the parts, only the parts of
the run's latest plan counted, and a planned part without its share refused by name."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.generate import generate_plan
from shared.dal.memory import (
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
)
from shared.models.runs import BucketPart, RunKind, RunMode, RunRef, RunStatus
from shared.programs.catalog import load_programs
from shared.services.ingest import IngestStatus
from shared.services.kinds.base import RunContext, parts_key
from shared.services.kinds.quarterly import (
    DirectServicesPartMissingError,
    QuarterlyPmpm,
    direct_services_part_key,
)
from tests.functional.memory_ingest import memory_ingest

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_direct_services_parts")

YEAR = 2026
CURATED = "curated"
KINDS = ("clinics", "providers", "eligibility", "medical_claims")
BUCKETS = 4
NOW = datetime(YEAR + 1, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> RunContext:
    generated = generate_plan(
        tmp_path_factory.mktemp("direct"), members=300, clinics=4, year=YEAR, seed=11, kinds=set(KINDS)
    )
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    ingest = memory_ingest(store, gaps, curated=CURATED, now=lambda: NOW, member_buckets=BUCKETS)
    for file in (f for kind in KINDS for f in generated.files if f.kind == kind):
        store.put_bytes("landing", file.landing_key, Path(file.path).read_bytes())
        assert ingest.ingest("landing", file.landing_key).status is IngestStatus.ACCEPTED, file.path
    programs = load_programs()
    return RunContext(
        objects=store,
        curated=CURATED,
        gaps=gaps,
        ledger=MemoryLedgerRepository(),
        runs=MemoryRunRegistry(),
        files=MemoryFileRegistry(),
        catalog=programs.care_gap,
        programs=programs,
        now=lambda: NOW,
        member_buckets=BUCKETS,
    )


def _run(run_id: str) -> RunRef:
    return RunRef(
        run_id=run_id,
        run_kind=RunKind.QUARTERLY,
        period=f"{YEAR}-Q4",
        mode=RunMode.PREVIEW,
        status=RunStatus.OPEN,
    )


def _planned(ctx: RunContext, run: RunRef, parts: list[BucketPart]) -> list[dict[str, str]]:
    """Build each part as BuildPart does, with the plan naming them, and read the run's report."""
    ctx.objects.put_json(ctx.curated, parts_key(run.run_id), [p.model_dump(mode="json") for p in parts])
    for part in parts:
        QuarterlyPmpm().build_part(ctx, run, part)
    return _report(ctx, run)


def _report(ctx: RunContext, run: RunRef) -> list[dict[str, str]]:
    reports = {r.name: r.body for r in QuarterlyPmpm().reports(ctx, run, [])}
    return list(csv.DictReader(io.StringIO(reports["direct-services.csv"].decode())))


def test_the_report_is_the_same_built_in_one_part_or_several(context: RunContext) -> None:
    # GIVEN the quarter planned as one part of every bucket, and another run of it as three parts
    whole = _planned(context, _run("q-whole"), [BucketPart(first_bucket=0, last_bucket=BUCKETS - 1)])
    split = [BucketPart(first_bucket=0, last_bucket=0), BucketPart(first_bucket=1, last_bucket=2)]
    split.append(BucketPart(first_bucket=3, last_bucket=3))
    # WHEN each run's reports are written
    parts = _planned(context, _run("q-parts"), split)
    # THEN the direct-services report is the same, line counts and dollars to the cent, rows in order
    assert len(whole) > 4 and {r["payment"] for r in whole} == {"capitated", "fee_for_service"}
    assert [{k: v for k, v in r.items() if k != "run_id"} for r in parts] == [
        {k: v for k, v in r.items() if k != "run_id"} for r in whole
    ]


def test_only_the_latest_plans_parts_count_and_a_missing_share_is_refused(context: RunContext) -> None:
    # GIVEN a run built in two parts, then planned again as one (a recalculation) and built
    run = _run("q-again")
    first = _planned(
        context, run, [BucketPart(first_bucket=0, last_bucket=1), BucketPart(first_bucket=2, last_bucket=3)]
    )
    again = _planned(context, run, [BucketPart(first_bucket=0, last_bucket=BUCKETS - 1)])
    # WHEN / THEN the first plan's shares are not counted again beside the new one
    assert again == first
    # AND a planned part whose share is lost is refused, naming its buckets and the run
    del context.objects.objects[
        (CURATED, direct_services_part_key(run.run_id, BucketPart(first_bucket=0, last_bucket=3)))
    ]
    with pytest.raises(
        DirectServicesPartMissingError, match="buckets 0-3 of run q-again have no direct-services"
    ):
        _report(context, run)
