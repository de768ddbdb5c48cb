"""An IngestService on the in-memory stores, as the functional tests that ingest generated plans build it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileLog,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryObjectStore,
)
from shared.logic.member_buckets import MEMBER_BUCKETS
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestService


def memory_ingest(
    store: MemoryObjectStore,
    gaps: MemoryGapStateRepository,
    *,
    curated: str,
    now: Callable[[], datetime],
    member_buckets: int = MEMBER_BUCKETS,
    files: MemoryFileRegistry | None = None,
    workers: int = 1,
) -> IngestService:
    """The ingest on `store` and `gaps` with the packaged catalog, `files` (a fresh file registry when
    none) and a fresh log, reports in `reports`, the clock `now`, and claims and rosters filed in
    `member_buckets` buckets, `workers` member groups applied at once."""
    return IngestService(
        store=store,
        files=files if files is not None else MemoryFileRegistry(),
        gaps=gaps,
        catalog=load_catalog(),
        curated_bucket=curated,
        reports_bucket="reports",
        versions=MemoryClaimVersionRepository(gaps),
        log=MemoryFileLog(),
        now=now,
        member_buckets=member_buckets,
        workers=workers,
    )
