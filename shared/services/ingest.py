"""Ingest one landed file: registry by content hash → intake → curated Parquet, rejects, manifest →
gap state (clinics, roster, evidence) → ACCEPTED. Whole-file problems go to quarantine.

Every write is idempotent (keys derive from the file's hash or the record's own ids), so a retry after a
crash, or the same file delivered twice, applies the file once.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from enum import StrEnum

import polars as pl
from pydantic import BaseModel, ConfigDict

from shared import clock
from shared.dal.claim_versions import ClaimVersion, ClaimVersionRepository
from shared.dal.files import FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.objects import ObjectStore
from shared.intake import QuarantineError, curated_partitions, kind_from_key, read_file, rejects_csv
from shared.intake.reader import IntakeResult, month_partitions
from shared.logic.clinics import merge_clinic
from shared.logic.evidence import (
    attestation_evidence,
    claim_evidence_frame,
    fhir_evidence,
    immunization_evidence,
    lab_evidence,
    pharmacy_evidence,
)
from shared.logic.roster import clinics_from_rows, roster_coverage, roster_from_rows
from shared.models.evidence import Evidence, evidence_frame
from shared.models.files import FileKind, FileManifest, FileStatus
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.care_gap import ActionDefinition, ProgramCatalog
from shared.services.ingest_versions import (
    ClaimVersionKeeper,
    VersionEffect,
    medical_versions,
    pharmacy_versions,
)

TEST_EVENT = "s3:TestEvent"
REJECTS_HEADER = "source_row,field,reason_code\n"


class IngestStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    QUARANTINED = "QUARANTINED"
    DUPLICATE = "DUPLICATE"


class IngestOutcome(BaseModel):
    """What happened to one object; safe to log (ids, kinds and counts only)."""

    model_config = ConfigDict(frozen=True)

    file_id: str
    kind: str | None
    status: IngestStatus
    accepted: int = 0
    rejected: int = 0
    evidence: int = 0
    evidence_withheld: int = 0
    evidence_retracted: int = 0
    reason: str | None = None


class IngestService:
    """Applies landed files to curated storage and the gap state."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        files: FileRegistry,
        gaps: GapStateRepository,
        catalog: ProgramCatalog,
        curated_bucket: str,
        reports_bucket: str,
        versions: ClaimVersionRepository | None = None,
        now: clock.Clock = clock.now,
    ) -> None:
        """`versions` nets claims across files; without it each file is netted on its own only."""
        self._now = now
        self._store = store
        self._keeper = ClaimVersionKeeper(versions, gaps) if versions is not None else None
        self._files = files
        self._gaps = gaps
        self._catalog = catalog
        self._curated = curated_bucket
        self._reports = reports_bucket

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        """Process the object `bucket/key` once per content."""
        data = self._store.get_bytes(bucket, key)
        file_id = hashlib.sha256(data).hexdigest()
        kind: FileKind | None = None
        unknown_kind: QuarantineError | None = None
        try:
            kind = kind_from_key(key)
        except QuarantineError as problem:
            unknown_kind = problem
        previous = self._files.begin(file_id, kind=kind, source_key=key)
        if previous is not None:
            logger.info("file already processed", file_id=file_id, status=previous.value)
            return IngestOutcome(file_id=file_id, kind=kind, status=IngestStatus.DUPLICATE)
        if kind is None:
            return self._quarantine(
                bucket, key, file_id, None, unknown_kind or QuarantineError("UNKNOWN_KIND")
            )
        try:
            result = read_file(data, kind=kind, source_key=key)
        except QuarantineError as problem:
            return self._quarantine(bucket, key, file_id, kind, problem)
        return self._accept(result)

    def _quarantine(
        self, bucket: str, key: str, file_id: str, kind: FileKind | None, problem: QuarantineError
    ) -> IngestOutcome:
        kind_name = kind.value if kind else "unknown"
        name = key.rsplit("/", 1)[-1] or "file"
        self._store.copy(bucket, key, bucket, f"{Prefix.QUARANTINE}{kind_name}/{file_id}/{name}")
        rejects_key = f"{Prefix.REJECTS}{file_id}.csv"
        self._store.put_bytes(
            self._reports, rejects_key, (REJECTS_HEADER + f",,{problem.reason_code}\n").encode(), "text/csv"
        )
        if kind is not None:
            manifest = FileManifest(
                file_id=file_id,
                kind=kind,
                source_key=key,
                status=FileStatus.QUARANTINED,
                rows_read=0,
                accepted=0,
                rejected=0,
                duplicate=0,
                superseded=0,
                quarantine_reason=problem.reason_code,
                rejects_key=rejects_key,
            )
            self._store.put_json(
                self._reports, f"{Prefix.MANIFESTS}{file_id}.json", manifest.model_dump(mode="json")
            )
        self._files.finish(file_id, FileStatus.QUARANTINED, reason=problem.reason_code)
        logger.warning("file quarantined", file_id=file_id, kind=kind_name, reason=problem.reason_code)
        return IngestOutcome(
            file_id=file_id, kind=kind_name, status=IngestStatus.QUARANTINED, reason=problem.reason_code
        )

    def _accept(self, result: IntakeResult) -> IngestOutcome:
        kind = result.kind
        curated_keys = []
        for period, frame in sorted(curated_partitions(result).items()):
            key = f"{Prefix.CURATED}{kind.value}/period={period}/{result.file_id}.parquet"
            self._put_parquet(self._curated, key, frame)
            curated_keys.append(key)
        rejects_key = None
        if result.rejects.height:
            rejects_key = f"{Prefix.REJECTS}{result.file_id}.csv"
            self._store.put_bytes(self._reports, rejects_key, rejects_csv(result), "text/csv")
        coverage = (
            roster_coverage(result.accepted, self._now().date()) if kind is FileKind.ELIGIBILITY else None
        )
        manifest = result.manifest.model_copy(
            update={"rejects_key": rejects_key, "curated_keys": tuple(curated_keys), "coverage": coverage}
        )
        self._store.put_json(
            self._reports, f"{Prefix.MANIFESTS}{result.file_id}.json", manifest.model_dump(mode="json")
        )
        effect = self._apply(result)
        self._files.finish(result.file_id, FileStatus.ACCEPTED, manifest=manifest)
        outcome = IngestOutcome(
            file_id=result.file_id,
            kind=kind.value,
            status=IngestStatus.ACCEPTED,
            accepted=manifest.accepted,
            rejected=manifest.rejected,
            evidence=effect.applied,
            evidence_withheld=effect.withheld,
            evidence_retracted=effect.retracted,
        )
        # The outcome is ids, kinds and counts only, so it can be logged whole.
        logger.info("file accepted", **outcome.model_dump(mode="json"))
        return outcome

    def _put_parquet(self, bucket: str, key: str, frame: pl.DataFrame) -> None:
        # Snappy: about as small as zstd on these columns and cheaper to write on one Lambda core.
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="snappy")
        self._store.put_bytes(bucket, key, buffer.getvalue(), "application/vnd.apache.parquet")

    def _actions(self) -> list[ActionDefinition]:
        return [a for program in self._catalog.versions for a in program.actions]

    def _apply(self, result: IntakeResult) -> VersionEffect:
        """Write what the file means for the gap state: clinics, roster, or net evidence."""
        rows, kind, file_id = result.accepted, result.kind, result.file_id
        if kind is FileKind.CLINICS:
            # Each clinics file says where a clinic is now; what it was before is kept in its history.
            known = self._gaps.clinics()
            merged = [merge_clinic(known.get(c.clinic_id), c) for c in clinics_from_rows(rows)]
            self._gaps.put_clinics(merged)
            return VersionEffect()
        if kind is FileKind.ELIGIBILITY:
            profiles, spans = roster_from_rows(rows)
            self._gaps.put_roster(profiles, spans)
            return VersionEffect()
        extract = _EXTRACTORS.get(kind)
        if extract is None:
            return VersionEffect()
        evidence = extract(rows, self._actions(), file_id)
        self._write_evidence_events(file_id, evidence)
        versions = _VERSIONS[kind](rows, file_id) if kind in _VERSIONS else []
        if self._keeper is not None:
            return self._keeper.apply(versions, evidence)
        return VersionEffect(applied=self._gaps.put_evidence(evidence))

    def _write_evidence_events(self, file_id: str, evidence: pl.DataFrame) -> None:
        """Every evidence row the file yields, net or not, in `evidence/period=<month>/<file_id>.parquet`."""
        for period, frame in sorted(month_partitions(evidence, "action_date").items()):
            key = f"{Prefix.EVIDENCE}period={period}/{file_id}.parquet"
            self._put_parquet(self._curated, key, frame)


def _models(
    extract: Callable[..., list[Evidence]],
) -> Callable[[pl.DataFrame, list[ActionDefinition], str], pl.DataFrame]:
    def frame(rows: pl.DataFrame, actions: list[ActionDefinition], file_id: str) -> pl.DataFrame:
        return evidence_frame(extract(rows, actions, file_id=file_id))

    return frame


_EXTRACTORS: dict[FileKind, Callable[[pl.DataFrame, list[ActionDefinition], str], pl.DataFrame]] = {
    FileKind.MEDICAL_CLAIMS: lambda rows, actions, file_id: claim_evidence_frame(
        rows, actions, file_id=file_id
    ),
    FileKind.ATTESTATIONS: _models(attestation_evidence),
    FileKind.PHARMACY_CLAIMS: _models(pharmacy_evidence),
    FileKind.IMMUNIZATIONS: _models(immunization_evidence),
    FileKind.LABS: _models(lab_evidence),
    FileKind.FHIR: _models(fhir_evidence),
}
"""Evidence of each kind that yields some, as an evidence frame (medical claims: built as columns)."""

_VERSIONS: dict[FileKind, Callable[[pl.DataFrame, str], list[ClaimVersion]]] = {
    FileKind.MEDICAL_CLAIMS: medical_versions,
    FileKind.PHARMACY_CLAIMS: pharmacy_versions,
}
