"""The month's attribution table fanned out by member bucket, on a generated plan through the real ingest
(in-memory stores): the ingest files claims and rosters by bucket, each part is built from its buckets'
files alone, and the parts together are, row for row, the table one process builds; files curated before the
buckets are still read; a version counts within its member, so a part nets as the whole plan does."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from cli.generate import generate_plan
from shared.dal.memory import (
    MemoryGapStateRepository,
    MemoryObjectStore,
)
from shared.logic.member_buckets import MEMBER_BUCKETS, key_partition, member_bucket
from shared.models.files import FileStatus
from shared.programs.apc import load_apc
from shared.services.attribution import (
    CLAIMS_PREFIX,
    ELIGIBILITY_PREFIX,
    AttributionService,
    NoAttributionTableError,
    attribution_parts,
    part_key,
    read_table,
    table_key,
)
from tests.functional.memory_ingest import memory_ingest

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_attribution_buckets")

YEAR = 2026
MONTH = f"{YEAR}-12"
CURATED = "curated"
KINDS = ("clinics", "providers", "eligibility", "medical_claims")
RANGES = [range(start, start + 16) for start in range(0, MEMBER_BUCKETS, 16)]


def _half_by_claims(body: bytes) -> bytes:
    """The roster with every other row commercial PPO, so claims decide about half the members (the
    generator's products all prefer the selected PCP)."""
    roster = pl.read_csv(io.BytesIO(body), infer_schema=False)
    ppo = pl.when(pl.int_range(pl.len()) % 2 == 1).then(pl.lit("commercial_ppo")).otherwise("product")
    return roster.with_columns(product=ppo).write_csv().encode()


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemoryObjectStore, MemoryGapStateRepository]:
    generated = generate_plan(
        tmp_path_factory.mktemp("buckets"), members=600, clinics=4, year=YEAR, seed=3, kinds=set(KINDS)
    )
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    ingest = memory_ingest(store, gaps, curated=CURATED, now=lambda: datetime(YEAR + 1, 6, 30, tzinfo=UTC))
    for kind in KINDS:
        for file in (f for f in generated.files if f.kind == kind):
            body = Path(file.path).read_bytes()
            store.put_bytes(
                "landing", file.landing_key, _half_by_claims(body) if kind == "eligibility" else body
            )
            outcome = ingest.ingest("landing", file.landing_key)
            assert (outcome.status, outcome.rejected) == (FileStatus.ACCEPTED, 0), file.path
    return store, gaps


def _service(store: MemoryObjectStore, gaps: MemoryGapStateRepository) -> AttributionService:
    return AttributionService(store=store, curated_bucket=CURATED, gaps=gaps, apc=load_apc())


def _parts_table(store: MemoryObjectStore, gaps: MemoryGapStateRepository, month: str) -> pl.DataFrame:
    for buckets in RANGES:  # each range by a service of its own, as each Map item's function builds it
        _service(store, gaps).build_part(month, buckets)
    return read_table(store, CURATED, month)


def test_the_ingest_files_claims_and_rosters_by_member_bucket(plan) -> None:
    # GIVEN the generated plan ingested
    store, _ = plan
    # WHEN its curated claims and rosters are read back, key by key
    for prefix in (CLAIMS_PREFIX, ELIGIBILITY_PREFIX):
        keys = store.keys(CURATED, prefix)
        # THEN every file is filed by a bucket, and holds only that bucket's members
        assert keys
        for key in keys:
            period, bucket = key_partition(key, prefix, MEMBER_BUCKETS)
            assert bucket is not None and (period is not None) == (prefix == CLAIMS_PREFIX), key
            members = pl.read_parquet(io.BytesIO(store.get_bytes(CURATED, key))).get_column("member_id")
            assert {member_bucket(m, MEMBER_BUCKETS) for m in members.unique()} == {bucket}, key


def test_the_parts_together_are_the_table_one_process_builds(plan) -> None:
    # GIVEN December built by one process over every bucket
    store, gaps = plan
    whole = _service(store, gaps).build(MONTH)
    alone = read_table(store, CURATED, MONTH)
    # WHEN it is built again in eight parts of sixteen buckets, each by a service of its own
    parts = _parts_table(store, gaps, MONTH)
    # THEN the parts are the same table, row for row, every rule in it
    assert parts.equals(alone)
    assert parts.height == whole.members > 500
    assert set(parts.get_column("rule")) == {"selected_pcp", "claims", "unattributed"}
    # AND each part holds only its bucket's members
    for bucket in (0, 77, MEMBER_BUCKETS - 1):
        part = store.get_parquet(CURATED, part_key(MONTH, bucket, MEMBER_BUCKETS))
        assert {member_bucket(m, MEMBER_BUCKETS) for m in part.get_column("member_id")} <= {bucket}


def test_a_part_reads_only_its_buckets_files(plan) -> None:
    # GIVEN the plan, and every object read counted
    store, gaps = plan
    gets: list[str] = []
    original = store.get_bytes

    def counted(bucket: str, key: str) -> bytes:
        gets.append(key)
        return original(bucket, key)

    store.get_bytes = counted
    try:
        # WHEN buckets 16 to 31 are built
        summary = _service(store, gaps).build_part(MONTH, range(16, 32))
    finally:
        del store.get_bytes
    # THEN every claims and roster file it read is one of its buckets'
    read = [k for k in gets if k.startswith((CLAIMS_PREFIX, ELIGIBILITY_PREFIX))]
    assert read and summary.parts == 16
    for key in read:
        prefix = CLAIMS_PREFIX if key.startswith(CLAIMS_PREFIX) else ELIGIBILITY_PREFIX
        assert key_partition(key, prefix, MEMBER_BUCKETS)[1] in range(16, 32), key


def _claim(claim_id: str, member: str, frequency: str, original: str | None, npi: str, day: date) -> dict:
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_frequency_code": frequency,
        "original_claim_id": original,
        "member_id": member,
        "claim_start_date": day,
        "received_date": day,
        "rendering_npi": npi,
        "hcpcs_code": "99213",
        "place_of_service_code": "11",
        "allowed_amount": Decimal("500.00"),
    }


def test_files_curated_before_the_buckets_are_read_and_a_version_counts_within_its_member(plan) -> None:
    # GIVEN two claims members in different buckets, a primary-care provider of a participating practice,
    # and a file curated before the buckets (filed by period alone) giving the first member five November
    # visits with that provider
    store, gaps = plan
    _service(store, gaps).build(MONTH)  # whatever another test of the module left of December's table
    table = read_table(store, CURATED, MONTH)
    claims_members = table.filter(pl.col("rule") != "selected_pcp").get_column("member_id").to_list()
    first = claims_members[0]
    second = next(
        m for m in claims_members if member_bucket(m, MEMBER_BUCKETS) != member_bucket(first, MEMBER_BUCKETS)
    )
    npi = next(npi for npi, p in _service(store, gaps)._attributor(MONTH).providers.items() if p.primary_care)
    visits = [_claim(f"OLD{i}", first, "1", None, npi, date(YEAR, 11, 2 + i)) for i in range(5)]
    key = f"{CLAIMS_PREFIX}period={YEAR}-11/before-buckets.parquet"
    money = {"allowed_amount": pl.Decimal(18, 2)}
    store.put_parquet(CURATED, key, pl.DataFrame(visits, schema_overrides=money))
    try:
        _service(store, gaps).build(MONTH)
        before = read_table(store, CURATED, MONTH)
        # WHEN a later file "replaces" one of those visits by a claim that names the second member, and
        # December is built by one process, then in parts
        moved = _claim("OLD-R", second, "7", "OLD0", npi, date(YEAR, 12, 31))
        store.put_parquet(CURATED, key, pl.DataFrame([*visits, moved], schema_overrides=money))
        _service(store, gaps).build(MONTH)
        alone = read_table(store, CURATED, MONTH)
        parts = _parts_table(store, gaps, MONTH)
    finally:
        del store.objects[(CURATED, key)]
    # THEN both read the old file, and agree row for row
    assert parts.equals(alone)
    first_row = alone.row(by_predicate=pl.col("member_id") == first, named=True)
    assert first_row["rule"] == "claims" and first_row["provider_npi"] == npi
    # AND the replacement replaces nothing of the first member's (a version counts within the member it
    # names), while the second member has its visit
    assert before.filter(pl.col("member_id") == first).equals(alone.filter(pl.col("member_id") == first))
    second_row = alone.row(by_predicate=pl.col("member_id") == second, named=True)
    assert second_row["rule"] == "claims" and second_row["last_visit"] == date(YEAR, 12, 31)


def test_a_table_with_a_part_missing_is_refused_and_a_table_written_whole_is_read(plan) -> None:
    # GIVEN November built in parts, then one part lost; and October's table as one file, as builds
    # before the parts wrote it
    store, gaps = plan
    service = _service(store, gaps)
    service.build(f"{YEAR}-11")
    del store.objects[(CURATED, part_key(f"{YEAR}-11", 5, MEMBER_BUCKETS))]
    service.build(f"{YEAR}-10")
    october = read_table(store, CURATED, f"{YEAR}-10")
    for bucket in range(MEMBER_BUCKETS):
        del store.objects[(CURATED, part_key(f"{YEAR}-10", bucket, MEMBER_BUCKETS))]
    store.put_parquet(CURATED, f"{table_key(f'{YEAR}-10')}attribution.parquet", october)
    # WHEN each is read
    with pytest.raises(NoAttributionTableError) as missing:
        read_table(store, CURATED, f"{YEAR}-11")
    in_seven = [m for m in october.get_column("member_id") if member_bucket(m, MEMBER_BUCKETS) == 7]
    whole = read_table(store, CURATED, f"{YEAR}-10", members=in_seven)
    # THEN November's names what is missing and how to mend it; October's whole file gives its rows
    assert f"has {MEMBER_BUCKETS - 1} of its {MEMBER_BUCKETS} parts" in str(missing.value)
    assert "p4p attribution build --month 2026-11" in str(missing.value)
    assert in_seven and whole.equals(october.filter(pl.col("member_id").is_in(in_seven)))


def test_parts_are_neighbouring_buckets_within_the_bytes_they_read() -> None:
    # GIVEN claims of buckets 0 and 1 (60 bytes each) in the lookback, claims of bucket 2 received before it,
    # a roster of bucket 3 (90 bytes), and a file curated before the buckets (128 bytes: one a bucket)
    store = MemoryObjectStore()
    for key, size in {
        f"{CLAIMS_PREFIX}period=2025-01/bucket=000-of-128/f.parquet": 60,
        f"{CLAIMS_PREFIX}period=2026-02/bucket=001-of-128/f.parquet": 60,
        f"{CLAIMS_PREFIX}period=2023-12/bucket=002-of-128/f.parquet": 500,
        f"{ELIGIBILITY_PREFIX}bucket=003-of-128/f.parquet": 90,
        f"{CLAIMS_PREFIX}period=2025-06/old.parquet": 128,
    }.items():
        store.put_bytes(CURATED, key, b"x" * size)
    # WHEN the parts of a quarter whose lookback starts in 2024-02 are cut at 100 bytes a part
    parts = attribution_parts(store, CURATED, "2024-02", "2026-03", budget=100)
    # THEN bucket 0 (61 bytes) is a part alone, bucket 1 (61) takes bucket 2 (1: its old claims are before
    # the lookback), bucket 3 (91) nine more buckets of one byte, and the rest go a hundred to a part
    assert parts == [(0, 0), (1, 2), (3, 12), (13, 112), (113, MEMBER_BUCKETS - 1)]
