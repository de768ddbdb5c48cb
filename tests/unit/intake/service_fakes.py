"""The ingest service on in-memory stores, and claim files for version tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.dal.claim_versions import ClaimVersionRepository
from shared.dal.files import FileLog, FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileLog,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryObjectStore,
    WriteMeter,
)
from shared.dal.objects import ObjectStore
from shared.models.files import FileKind
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestOutcome, IngestService
from tests.unit.intake.factories import VALID_ROWS, csv_bytes

LANDING = "landing-bucket"
CURATED = "curated-bucket"
REPORTS = "reports-bucket"
MAMMOGRAM = "77067"
OFFICE_VISIT = "99213"
CATALOG = load_catalog()


@dataclass
class Plan:
    """One deployment's storage, in memory."""

    meter: WriteMeter = field(default_factory=WriteMeter)
    store: MemoryObjectStore = field(default_factory=MemoryObjectStore)

    def __post_init__(self) -> None:
        self.files = MemoryFileRegistry(self.meter)
        self.log = MemoryFileLog(self.meter)
        self.gaps = MemoryGapStateRepository(self.meter)
        self.index = MemoryClaimVersionRepository(self.gaps)

    def service(
        self,
        *,
        files: FileRegistry | None = None,
        gaps: GapStateRepository | None = None,
        index: ClaimVersionRepository | None = None,
        store: ObjectStore | None = None,
        log: FileLog | None = None,
        **options: Any,
    ) -> IngestService:
        """The service on this plan's stores; pass wrappers to inject faults (`options`: the service's
        other settings)."""
        return IngestService(
            store=store or self.store,
            files=files or self.files,
            gaps=gaps or self.gaps,
            catalog=CATALOG,
            curated_bucket=CURATED,
            reports_bucket=REPORTS,
            versions=index or self.index,
            log=log or self.log,
            **options,
        )

    def drop(self, key: str, data: bytes) -> IngestOutcome:
        """Land `data` at `key` and ingest it."""
        self.store.put_bytes(LANDING, key, data)
        return self.service().ingest(LANDING, key)

    def status(self, key: str) -> str | None:
        """The status the file log records for the drop at `key`."""
        drop = self.log.drop(key)
        return drop.status if drop else None

    def evidence_refs(self) -> set[str]:
        """`claim:<id>#<line>` / `attestation:<id>` of every evidence item in the gap state."""
        return {e.reference for e in self.gaps.evidence.values()}

    def snapshot(self) -> dict[str, Any]:
        """Everything a run leaves behind, comparable between runs."""
        return {
            "objects": dict(self.store.objects),
            "files": {k: v["status"] for k, v in self.files.items.items()},
            "evidence": dict(self.gaps.evidence),
            "versions": {k: dict(v) for k, v in self.index.versions.items()},
        }


def claim_line(
    claim_id: str,
    *,
    line: int = 1,
    frequency: str = "1",
    original: str | None = None,
    code: str = MAMMOGRAM,
    member: str = "M0001",
    received: str = "2026-02-10",
) -> dict[str, str | None]:
    """A valid medical claim line."""
    row: dict[str, str | None] = dict(VALID_ROWS[FileKind.MEDICAL_CLAIMS])
    row.update(
        claim_id=claim_id,
        claim_line_number=str(line),
        claim_frequency_code=frequency,
        original_claim_id=original,
        hcpcs_code=code,
        member_id=member,
        received_date=received,
    )
    return row


def claims_file(*lines: dict[str, str | None]) -> bytes:
    """A medical claims CSV of the given lines."""
    return csv_bytes(FileKind.MEDICAL_CLAIMS, lines)
