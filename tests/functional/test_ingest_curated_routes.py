"""A claims file's curated files are the same whichever way its rows reach them: written from groups of
whole member buckets (one group or many), or spilled by period and bucket when its member partitions outnumber
the buckets (`shared.services.ingest` `_apply_and_write`)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import shared.intake.staging as staging
from shared.dal.memory import MemoryGapStateRepository, MemoryObjectStore
from shared.intake.reader import estimated_rows
from shared.models.files import FileKind, FileStatus
from shared.services.ingest import UPLOADS_AT_ONCE, IngestOutcome
from tests.functional.memory_ingest import memory_ingest
from tests.unit.intake.factories import csv_bytes, rows

BUCKETS = 16
KEY = "landing/medical_claims/claims-2026-06.csv"


def _claims() -> bytes:
    data = rows(FileKind.MEDICAL_CLAIMS, 600)
    for i, row in enumerate(data):
        row["member_id"] = f"M{(i * 7) % 90:04d}"
        day = f"2026-{1 + i % 5:02d}-{1 + i % 27:02d}"
        row["claim_start_date"] = row["claim_end_date"] = row["received_date"] = row["paid_date"] = day
    return csv_bytes(FileKind.MEDICAL_CLAIMS, data)


def _partitions(rows_per_group: int) -> int:
    """The member partitions the file is staged in, at `rows_per_group` rows a group."""
    return staging.partitions_for(estimated_rows(len(_claims()), False), rows_per_group)


def _ingested(
    monkeypatch: pytest.MonkeyPatch, rows_per_group: int, workers: int = 1
) -> tuple[IngestOutcome, dict[str, pl.DataFrame], MemoryGapStateRepository]:
    """The file ingested at `rows_per_group` rows a group, `workers` groups at once: its outcome, every
    Parquet object it wrote (curated files and evidence log) by key, and the gap state."""
    monkeypatch.setattr(staging, "ROWS_PER_GROUP", rows_per_group)
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    ingest = memory_ingest(
        store,
        gaps,
        curated="curated",
        now=lambda: datetime(2026, 7, 1, tzinfo=UTC),
        member_buckets=BUCKETS,
        workers=workers,
    )
    store.put_bytes("landing", KEY, _claims())
    outcome = ingest.ingest("landing", KEY)
    assert outcome.status == FileStatus.ACCEPTED
    written = {
        key: pl.read_parquet(store.get_bytes(bucket, key))
        for (bucket, key) in store.objects
        if bucket == "curated" and key.endswith(".parquet") and not key.startswith("staging/")
    }
    return outcome, written, gaps


def _curated(monkeypatch: pytest.MonkeyPatch, rows_per_group: int) -> dict[str, pl.DataFrame]:
    _, written, _ = _ingested(monkeypatch, rows_per_group)
    return {key: frame for key, frame in written.items() if key.startswith("curated/medical_claims/")}


def test_whole_bucket_groups_and_the_spill_give_the_same_curated_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _partitions(250_000) == 1 and _partitions(80) == BUCKETS and _partitions(2) > BUCKETS
    one_group = _curated(monkeypatch, 250_000)  # one partition
    many_groups = _curated(monkeypatch, 80)  # a bucket per partition, several groups
    spilled = _curated(monkeypatch, 2)  # partitions by hash: more than the buckets
    periods = {key.split("/")[2] for key in one_group}
    assert periods == {f"period=2026-{m:02d}" for m in range(1, 6)} and len(one_group) > 4 * BUCKETS
    names = {key.rsplit("/", 1)[0] for key in one_group}
    for other in (many_groups, spilled):
        assert {key.rsplit("/", 1)[0] for key in other} == names
        by_name = {key.rsplit("/", 1)[0]: frame for key, frame in other.items()}
        for key, frame in one_group.items():
            theirs = by_name[key.rsplit("/", 1)[0]]
            assert theirs.sort(theirs.columns).equals(frame.sort(frame.columns)), key
    # Whole buckets keep each file in the file's order, as one group does.
    by_name = {key.rsplit("/", 1)[0]: frame for key, frame in many_groups.items()}
    for key, frame in one_group.items():
        assert by_name[key.rsplit("/", 1)[0]].equals(frame), key


@pytest.mark.parametrize("rows_per_group", [80, 2])
def test_groups_applied_at_once_give_what_one_at_a_time_gives(
    monkeypatch: pytest.MonkeyPatch, rows_per_group: int
) -> None:
    """Several member groups at once (`workers`): the same outcome, the same curated files and evidence log
    row for row, and the same evidence for every member, on both curated routes."""
    one, written_one, gaps_one = _ingested(monkeypatch, rows_per_group, workers=1)
    four, written_four, gaps_four = _ingested(monkeypatch, rows_per_group, workers=4)
    assert _partitions(rows_per_group) >= BUCKETS  # several groups, so several run at once
    assert four == one and one.evidence > 0
    assert sorted(written_four) == sorted(written_one)
    assert any(key.startswith("evidence/") for key in written_one)
    for key, frame in written_one.items():
        assert written_four[key].equals(frame), key
    members = {f"M{i:04d}" for i in range(90)}
    assert all(gaps_four.evidence_of(m) == gaps_one.evidence_of(m) for m in members)
    assert sum(len(gaps_one.evidence_of(m)) for m in members) > 0


class _SlowStore(MemoryObjectStore):
    """A store whose uploads from local files wait as S3's PUTs do, counting how many wait at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.waiting = 0
        self.most_at_once = 0

    def put_file(self, bucket: str, key: str, path: Path, content_type: str = "") -> None:
        with self._lock:
            self.waiting += 1
            self.most_at_once = max(self.most_at_once, self.waiting)
        time.sleep(0.02)
        super().put_file(bucket, key, path, content_type)
        with self._lock:
            self.waiting -= 1


def test_curated_and_evidence_files_are_uploaded_several_at_once_and_listed_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each output file is one PUT that waits on S3: they are sent `UPLOADS_AT_ONCE` at a time, and the
    manifest lists the same curated keys, in the same order, as a store that answers at once."""
    monkeypatch.setattr(staging, "ROWS_PER_GROUP", 80)
    now = lambda: datetime(2026, 7, 1, tzinfo=UTC)  # noqa: E731
    manifests = []
    slow = _SlowStore()
    for store in (MemoryObjectStore(), slow):
        ingest = memory_ingest(
            store, MemoryGapStateRepository(), curated="curated", now=now, member_buckets=BUCKETS
        )
        store.put_bytes("landing", KEY, _claims())
        outcome = ingest.ingest("landing", KEY)
        manifests.append(store.get_json("reports", f"manifests/{outcome.file_id}.json"))
    fast, slowly = manifests
    assert slowly["curated_keys"] == fast["curated_keys"] and len(fast["curated_keys"]) > 4 * BUCKETS
    assert fast["curated_keys"] == sorted(fast["curated_keys"])
    assert slow.most_at_once == UPLOADS_AT_ONCE and slow.waiting == 0
