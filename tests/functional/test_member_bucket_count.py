"""The member-bucket count is a deployment setting: a deployment of 4 buckets files claims and rosters in 4
and builds the month's table in 4 parts, row for row the default count's table; after the count changes, the
files and tables of the old count are still read (whole, kept by the hash), and a part planned under the old
count is refused rather than written where no reader looks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.generate import generate_plan
from shared.dal.memory import MemoryGapStateRepository, MemoryObjectStore
from shared.logic.member_buckets import MEMBER_BUCKETS
from shared.models.files import FileStatus
from shared.programs.apc import load_apc
from shared.services.attribution import (
    CLAIMS_PREFIX,
    ELIGIBILITY_PREFIX,
    AttributionService,
    BucketOutOfRangeError,
    attributed_practices,
    attribution_parts,
    read_table,
    table_key,
)
from tests.functional.memory_ingest import memory_ingest

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_member_bucket_count")

YEAR = 2026
MONTH = f"{YEAR}-12"
CURATED = "curated"
KINDS = ("clinics", "providers", "eligibility", "medical_claims")

Deployment = tuple[MemoryObjectStore, MemoryGapStateRepository]


def _deploy(generated_files: list, count: int) -> Deployment:
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    now = lambda: datetime(YEAR + 1, 6, 30, tzinfo=UTC)  # noqa: E731
    ingest = memory_ingest(store, gaps, curated=CURATED, now=now, member_buckets=count)
    for file in generated_files:
        store.put_bytes("landing", file.landing_key, Path(file.path).read_bytes())
        outcome = ingest.ingest("landing", file.landing_key)
        assert (outcome.status, outcome.rejected) == (FileStatus.ACCEPTED, 0), file.path
    return store, gaps


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Deployment]:
    generated = generate_plan(
        tmp_path_factory.mktemp("counts"), members=300, clinics=3, year=YEAR, seed=5, kinds=set(KINDS)
    )
    files = [f for kind in KINDS for f in generated.files if f.kind == kind]
    return {count: _deploy(files, count) for count in (MEMBER_BUCKETS, 4)}


def _service(deployment: Deployment, count: int) -> AttributionService:
    store, gaps = deployment
    return AttributionService(
        store=store, curated_bucket=CURATED, gaps=gaps, apc=load_apc(), member_buckets=count
    )


def _segments(store: MemoryObjectStore, prefix: str) -> set[str]:
    return {
        segment
        for (bucket, key) in store.objects
        if bucket == CURATED and key.startswith(prefix)
        for segment in key[len(prefix) :].split("/")
        if segment.startswith("bucket=")
    }


def test_a_deployment_of_4_buckets_files_and_builds_in_4_and_its_table_is_the_default_counts(
    deployments: dict[int, Deployment],
) -> None:
    # GIVEN the same plan ingested by a deployment of 4 buckets and by one of the default count
    four, default = deployments[4], deployments[MEMBER_BUCKETS]
    # WHEN each builds December, the 4-bucket one part by part as its BuildParts would
    store = four[0]
    parts = attribution_parts(store, CURATED, f"{YEAR - 1}-01", MONTH, count=4)
    for first, last in parts:
        _service(four, 4).build_part(MONTH, range(first, last + 1))
    _service(default, MEMBER_BUCKETS).build(MONTH)
    # THEN its claims, rosters and table are filed in 4 buckets only, and its table is the other's row for row
    expected = {f"bucket={b:03d}-of-4" for b in range(4)}
    assert _segments(store, CLAIMS_PREFIX) == expected and _segments(store, ELIGIBILITY_PREFIX) == expected
    assert _segments(store, table_key(MONTH)) == {f"{s}.parquet" for s in expected}
    assert parts and parts[0][0] == 0 and parts[-1][1] == 3
    table = read_table(store, CURATED, MONTH, count=4)
    assert table.height > 200 and table.equals(read_table(default[0], CURATED, MONTH))


def test_after_the_count_changes_the_old_counts_files_and_table_are_still_read(
    deployments: dict[int, Deployment],
) -> None:
    # GIVEN the default deployment's claims and rosters, and November's table built in its 128 parts
    default = deployments[MEMBER_BUCKETS]
    store = default[0]
    _service(default, MEMBER_BUCKETS).build(f"{YEAR}-11")
    november = read_table(store, CURATED, f"{YEAR}-11")
    # WHEN the deployment is now of 4 buckets: it builds October from the same files, and reads November
    _service(default, 4).build(f"{YEAR}-10")
    october_in_4 = read_table(store, CURATED, f"{YEAR}-10", count=4)
    _service(default, MEMBER_BUCKETS).build(f"{YEAR}-10")
    read_in_4 = read_table(store, CURATED, f"{YEAR}-11", count=4)
    members = november.get_column("member_id").head(5).to_list()
    # THEN October is the same table whichever count built it, and November reads whole under the new count
    assert october_in_4.equals(read_table(store, CURATED, f"{YEAR}-10"))
    assert read_in_4.equals(november)
    assert attributed_practices(store, CURATED, f"{YEAR}-11", members, count=4) == dict(
        november.filter(november["member_id"].is_in(members)).select("member_id", "practice_id").iter_rows()
    )


def test_a_part_planned_under_a_larger_count_is_refused_before_anything_is_written(
    deployments: dict[int, Deployment],
) -> None:
    # GIVEN the 4-bucket deployment, and a part for buckets 3 to 9 (planned when it had more buckets)
    four = deployments[4]
    before = dict(four[0].objects)
    # WHEN that part is built  THEN it is refused naming the bucket and the count, and nothing is written
    with pytest.raises(
        BucketOutOfRangeError, match="bucket 4 is not one of this deployment's 4 member buckets"
    ):
        _service(four, 4).build_part(f"{YEAR}-09", range(3, 10))
    assert four[0].objects == before
