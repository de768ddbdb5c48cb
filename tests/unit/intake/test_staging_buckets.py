"""Staging by whole member buckets: when a file has no more member partitions than the deployment has member
buckets, each partition holds whole buckets, so every group the ingest applies holds each of its buckets'
rows alone (and the curated files by bucket are written from one group, with no spill); with more partitions
than buckets, rows are spread by hash and the ingest spills them (`shared.services.ingest`)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import shared.intake.staging as staging
from shared.intake.reader import stage_file
from shared.logic.member_buckets import bucket_column
from shared.models.files import FileKind
from tests.unit.intake.factories import csv_bytes, rows

MEMBERS = 40


def _claims(n: int) -> bytes:
    data = rows(FileKind.MEDICAL_CLAIMS, n)
    for i, row in enumerate(data):
        row["member_id"] = f"M{(i * 7) % MEMBERS:04d}"
    return csv_bytes(FileKind.MEDICAL_CLAIMS, data)


def _staged(tmp_path: Path, count: int) -> staging.StagedFile:
    body = _claims(400)
    staged = stage_file(
        io.BytesIO(body),
        kind=FileKind.MEDICAL_CLAIMS,
        as_of=date(2026, 6, 1),
        workdir=tmp_path,
        size_hint=len(body),
        member_buckets=count,
    ).staged
    assert staged is not None
    return staged


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups of 25 rows: the 400-row file is staged in 32 member partitions."""
    monkeypatch.setattr(staging, "ROWS_PER_GROUP", 25)


@pytest.mark.usefixtures("small_groups")
def test_with_no_more_partitions_than_buckets_each_group_holds_its_buckets_alone(tmp_path: Path) -> None:
    staged = _staged(tmp_path, 64)
    assert staged.rows.partitions > 1
    assert staged.whole_buckets(64) and not staged.whole_buckets(32)
    groups = list(staged.groups())
    assert len(groups) > 1
    seen: dict[int, int] = {}
    for number, group in enumerate(groups):
        for bucket in bucket_column(group.get_column("member_id"), 64).unique().to_list():
            assert seen.setdefault(bucket, number) == number, f"bucket {bucket} is in two groups"
        # A member's rows keep the file's order.
        ordered = group.group_by("member_id", maintain_order=True).agg(pl.col("source_row").diff().min())
        assert (ordered.get_column("source_row").drop_nulls() > 0).all()
    assert sum(group.height for group in groups) == 400


@pytest.mark.usefixtures("small_groups")
def test_with_more_partitions_than_buckets_rows_are_spread_by_hash_and_no_group_promises_whole_buckets(
    tmp_path: Path,
) -> None:
    staged = _staged(tmp_path, 2)
    assert staged.rows.partitions > 2
    assert not staged.whole_buckets(2)
    used = [n for n in range(staged.rows.partitions) if staged.rows.rows[n]]
    assert len(used) > 2  # the hash spreads 40 members over more partitions than 2 buckets would
    groups = list(staged.groups())
    members = [set(group.get_column("member_id").to_list()) for group in groups]
    assert sum(len(m) for m in members) == len(set().union(*members)) == MEMBERS


def test_a_one_partition_file_holds_whole_buckets_of_any_count(tmp_path: Path) -> None:
    staged = _staged(tmp_path, 128)
    assert staged.rows.partitions == 1
    assert staged.whole_buckets(128) and staged.whole_buckets(3)
