"""Member buckets: a stable hash of the member id (the same in every process), its key segments, and where
the ingest files each kind's rows."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import polars as pl
import pytest

from shared.logic.member_buckets import (
    MEMBER_BUCKETS,
    BucketCountError,
    bucket_column,
    bucket_segment,
    buckets_for,
    checked_count,
    contiguous_parts,
    curated_partition,
    in_buckets,
    key_partition,
    member_bucket,
    segment_bucket,
    segment_of,
)
from shared.models.files import FileKind

KNOWN = {"A1": 1, "M-1001": 57, "K00M0000001": 16, "élodie": 18}
"""Buckets worked out once: a change to the function would re-file every member, so it must not change."""


def test_a_members_bucket_is_crc32_of_its_id_and_never_changes() -> None:
    # GIVEN ids whose buckets were worked out once
    # WHEN their buckets are asked again
    found = {m: member_bucket(m, MEMBER_BUCKETS) for m in KNOWN}
    # THEN they are the same, CRC-32 of the UTF-8 bytes modulo the bucket count
    assert found == KNOWN
    assert all(b == zlib.crc32(m.encode()) % MEMBER_BUCKETS for m, b in found.items())


def test_the_bucket_is_the_same_in_another_process_whatever_its_hash_seed() -> None:
    # GIVEN two fresh interpreters with different string-hash seeds
    code = "from shared.logic.member_buckets import member_bucket; print(member_bucket('M-1001', 128))"
    answers = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        # WHEN each works out a member's bucket
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        answers.add(done.stdout.strip())
    # THEN both give the bucket worked out here
    assert answers == {str(KNOWN["M-1001"])}


def test_the_column_is_the_scalar_for_each_id_and_spreads_ids_over_every_bucket() -> None:
    # GIVEN many ids, repeated, with a null
    ids = pl.Series([f"M{i:06d}" for i in range(20_000)] * 2 + [None], dtype=pl.String)
    # WHEN their buckets are worked out as a column
    column = bucket_column(ids, MEMBER_BUCKETS)
    # THEN each is the scalar answer, the null stays null, and every bucket gets about its share
    assert column.to_list()[:5] == [member_bucket(f"M{i:06d}", MEMBER_BUCKETS) for i in range(5)]
    assert column[-1] is None
    counts = column.drop_nulls().value_counts().get_column("count")
    assert counts.len() == MEMBER_BUCKETS and counts.min() > 0.8 * 40_000 / MEMBER_BUCKETS  # type: ignore[operator]


def test_rows_are_kept_by_their_members_bucket() -> None:
    # GIVEN rows of members in known buckets
    frame = pl.DataFrame({"member_id": list(KNOWN), "n": range(len(KNOWN))})
    # WHEN rows of buckets 1 and 16 are kept, then of every bucket
    # THEN only those members' rows stay; every bucket keeps every row
    assert in_buckets(frame, [1, 16], MEMBER_BUCKETS).get_column("member_id").to_list() == [
        "A1",
        "K00M0000001",
    ]
    assert in_buckets(frame, range(MEMBER_BUCKETS), MEMBER_BUCKETS).equals(frame)


def test_a_key_segment_names_its_bucket_and_the_count_and_another_count_is_no_bucket() -> None:
    # GIVEN a bucket's segment, and segments of another count and of another shape
    # WHEN / THEN the segment reads back as the bucket; the others as none
    assert bucket_segment(7, MEMBER_BUCKETS) == f"bucket=007-of-{MEMBER_BUCKETS}"
    assert segment_bucket(bucket_segment(7, MEMBER_BUCKETS), MEMBER_BUCKETS) == 7
    assert segment_bucket("bucket=007-of-64", MEMBER_BUCKETS) is None
    assert segment_bucket("period=2026-03", MEMBER_BUCKETS) is None


@pytest.mark.parametrize(
    ("key", "partition"),
    [
        ("curated/medical_claims/period=2026-03/bucket=007-of-128/f.parquet", ("2026-03", 7)),
        ("curated/medical_claims/period=2026-03/f.parquet", ("2026-03", None)),
        ("curated/medical_claims/period=2026-03/bucket=007-of-64/f.parquet", ("2026-03", None)),
        ("curated/medical_claims/bucket=120-of-128/f.parquet", (None, 120)),
    ],
)
def test_a_curated_key_says_its_period_and_bucket(key: str, partition: tuple[str | None, int | None]) -> None:
    # GIVEN a curated key, in the bucketed layouts, before the buckets, or under another count
    # WHEN / THEN it reads as the period and bucket it is filed by
    assert key_partition(key, "curated/medical_claims/", MEMBER_BUCKETS) == partition


def test_claims_are_filed_by_period_and_bucket_rosters_by_bucket_and_the_rest_by_period() -> None:
    # GIVEN rows of one member (bucket 57) and their period
    rows = pl.DataFrame({"member_id": ["M-1001"], "day": ["2026-03"]})
    period = pl.col("day")
    # WHEN each kind's partition is worked out
    found = {
        kind: rows.select(curated_partition(kind, rows, period, MEMBER_BUCKETS)).item()
        for kind in (FileKind.MEDICAL_CLAIMS, FileKind.ELIGIBILITY, FileKind.PHARMACY_CLAIMS)
    }
    # THEN claims go by received period and bucket, rosters by bucket alone, the rest by period
    assert found == {
        FileKind.MEDICAL_CLAIMS: "period=2026-03/bucket=057-of-128",
        FileKind.ELIGIBILITY: "bucket=057-of-128",
        FileKind.PHARMACY_CLAIMS: "period=2026-03",
    }


@pytest.mark.parametrize(
    ("sizes", "budget", "parts"),
    [
        ([1, 1, 1, 1], 10, [(0, 3)]),
        ([4, 4, 4, 4], 8, [(0, 1), (2, 3)]),
        ([4, 20, 1, 1], 8, [(0, 0), (1, 1), (2, 3)]),
        ([0, 0, 0], 1, [(0, 2)]),
        ([], 8, []),
    ],
)
def test_buckets_are_cut_into_neighbouring_runs_within_a_budget(
    sizes: list[int], budget: int, parts: list[tuple[int, int]]
) -> None:
    # GIVEN what each bucket holds and a part's budget
    # WHEN the buckets are cut into parts
    # THEN each part is a run of neighbours within the budget (a bucket over it alone), every bucket once
    assert contiguous_parts(sizes, budget) == parts


@pytest.mark.parametrize(
    ("members", "buckets"),
    [(0, 1), (2_000, 1), (100_000, 1), (100_001, 2), (2_600_000, 26), (12_000_000, 120), (10**9, 999)],
)
def test_a_plan_gets_a_bucket_per_100000_members_at_least_one_at_most_999(members: int, buckets: int) -> None:
    # GIVEN a plan's size  WHEN its bucket count is worked out  THEN one per 100,000 members, within 1 to 999
    assert buckets_for(members) == buckets


@pytest.mark.parametrize("count", [0, -1, 1000])
def test_a_bucket_count_outside_1_to_999_is_refused_naming_the_range(count: int) -> None:
    # GIVEN / WHEN / THEN a count no key segment could name is refused, saying what is allowed
    with pytest.raises(BucketCountError, match=f"must be 1 to 999, not {count}"):
        checked_count(count)


def test_another_count_files_the_same_member_in_its_own_bucket_and_segment() -> None:
    # GIVEN one member's rows  WHEN filed under 4 buckets and under 1
    rows = pl.DataFrame({"member_id": ["M-1001"], "day": ["2026-03"]})
    four = rows.select(curated_partition(FileKind.MEDICAL_CLAIMS, rows, pl.col("day"), 4)).item()
    one = rows.select(curated_partition(FileKind.ELIGIBILITY, rows, pl.col("day"), 1)).item()
    # THEN each names its count, the bucket CRC-32 modulo it, and reads back only under that count
    assert four == f"period=2026-03/bucket={zlib.crc32(b'M-1001') % 4:03d}-of-4" and one == "bucket=000-of-1"
    assert segment_of("bucket=003-of-4") == (3, 4) and segment_of("bucket=004-of-4") is None
    assert segment_bucket("bucket=003-of-4", 4) == 3 and segment_bucket("bucket=003-of-4", 128) is None
    assert in_buckets(pl.DataFrame({"member_id": ["A1", "B2"]}), [0], 1).height == 2
