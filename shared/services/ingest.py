"""Ingest one landed file: stream it through intake → registry by content hash → gap state (clinics,
roster, evidence) one member group at a time → curated Parquet, evidence log, rejects → manifest →
ACCEPTED. Whole-file problems go to quarantine; a file whose application keeps failing ends FAILED.

The object is read once, as a stream, into local spills (`shared.intake.staging`): memory is bounded by
batches and groups, never by the file. Every write is idempotent (keys derive from the file's hash or the
record's own ids), so a retry after a crash, or the same file delivered twice, applies the file once. The
manifest says ACCEPTED only once the file's evidence and gap state are applied.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from shared import clock
from shared.dal.claim_versions import ClaimVersion, ClaimVersionRepository
from shared.dal.files import FileDrop, FileLog, FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.objects import ObjectStore
from shared.intake import QuarantineError, kind_from_key, stage_file, write_rejects_csv
from shared.intake.reader import CURRENT_PERIOD, Staging, hash_file
from shared.intake.source import MAX_FILE_BYTES
from shared.intake.spill import PeriodSpill
from shared.intake.staging import StagedFile
from shared.logic.clinics import merge_clinic_rows
from shared.logic.evidence import (
    attestation_evidence,
    claim_evidence_frame,
    fhir_evidence,
    immunization_evidence,
    lab_evidence,
    pharmacy_evidence,
)
from shared.logic.keys import safe_file_name
from shared.logic.member_buckets import MEMBER_BUCKETS, checked_count, curated_partition
from shared.logic.roster import clinic_rows, providers_from_rows, roster_coverage, roster_from_rows
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
PARQUET_TYPE = "application/vnd.apache.parquet"
COPY_LIMIT = 5 * 1024**3
"""S3's largest single copy: a larger quarantined file stays only at its landing key."""
_OUTPUT_SPILL_MEMORY = 64 * 1024 * 1024
"""Bytes of curated rows, and of evidence rows, held in memory before they go to local files."""


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


@dataclass
class _Delivery:
    """One delivery of one object: what the failure path needs to know of it so far."""

    key: str
    kind: FileKind | None
    last: bool
    drop: FileDrop
    """The drop's record as this delivery writes it."""
    before: FileDrop
    """The drop's record before this delivery (what a redelivery of an applied file leaves as it was)."""
    file_id: str | None = None
    """Set once the content is claimed by this delivery (not a duplicate of an applied file)."""
    staging: Staging | None = None


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
        log: FileLog | None = None,
        now: clock.Clock = clock.now,
        scratch: Path | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        member_buckets: int = MEMBER_BUCKETS,
    ) -> None:
        """`versions` nets claims across files (without it each file is netted on its own only); `log`
        records each drop (`p4p files`); `scratch` is where a file is staged (default: the temp dir);
        `max_file_bytes` the largest file taken (what one function applies in its time; benchmarks of the
        streaming itself go past it); `member_buckets` how many member buckets claims and rosters are filed
        in (the deployment's `MEMBER_BUCKETS`)."""
        self._now = now
        self._store = store
        self._keeper = ClaimVersionKeeper(versions, gaps) if versions is not None else None
        self._files = files
        self._log = log
        self._gaps = gaps
        self._catalog = catalog
        self._curated = curated_bucket
        self._reports = reports_bucket
        self._scratch = scratch
        self._max_file_bytes = max_file_bytes
        self._member_buckets = checked_count(member_buckets)

    def ingest(self, bucket: str, key: str, *, attempt: int = 1, last_attempt: bool = False) -> IngestOutcome:
        """Process the object `bucket/key` once per content. `attempt` counts this delivery (SQS's receive
        count); on the `last_attempt` a failure ends the file FAILED (and the error still propagates, so
        the message goes to the dead-letter queue)."""
        kind: FileKind | None = None
        unknown: QuarantineError | None = None
        try:
            kind = kind_from_key(key)
        except QuarantineError as problem:
            unknown = problem
        before = now = FileDrop(key=key)
        if self._log is not None:
            before, now = self._log.landed(key, kind=kind, attempt=attempt, last=last_attempt)
        delivery = _Delivery(key=key, kind=kind, last=last_attempt, drop=now, before=before)
        try:
            return self._deliver(bucket, delivery, unknown)
        except Exception as error:
            self._failed(delivery, type(error).__name__)
            raise

    def _deliver(self, bucket: str, delivery: _Delivery, unknown: QuarantineError | None) -> IngestOutcome:
        stream, size = self._store.open_stream(bucket, delivery.key)
        with self._workdir() as workdir:
            if delivery.kind is None:
                staging = hash_file(stream, unknown or QuarantineError("UNKNOWN_KIND"))
            else:
                staging = stage_file(
                    stream,
                    kind=delivery.kind,
                    as_of=self._now().date(),
                    workdir=workdir,
                    size_hint=size,
                    limit=self._max_file_bytes,
                )
            close = getattr(stream, "close", None)
            if callable(close):
                close()
            previous = self._files.begin(staging.file_id, kind=delivery.kind, source_key=delivery.key)
            if previous is FileStatus.ACCEPTED:
                return self._duplicate(delivery, staging.file_id)
            # From here the content is this delivery's: a failure now may end it FAILED.
            delivery.file_id, delivery.staging = staging.file_id, staging
            # Only an applied file is a duplicate: a quarantined or failed one is processed again.
            if staging.problem is not None:
                return self._quarantine(bucket, delivery, staging)
            assert staging.staged is not None and delivery.kind is not None
            return self._accept(delivery, staging, staging.staged, workdir)

    @contextmanager
    def _workdir(self) -> Iterator[Path]:
        path = Path(tempfile.mkdtemp(prefix="p4p-ingest-", dir=self._scratch))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _duplicate(self, delivery: _Delivery, file_id: str) -> IngestOutcome:
        applied = self._log.applied_key(file_id) if self._log is not None else None
        kind = delivery.kind.value if delivery.kind else None
        if self._log is not None:
            if applied == delivery.key:
                # The same event again: the drop stays what its applying delivery made it (which, if that
                # delivery died before saying so, its manifest tells).
                self._log.settle(self._applied_drop(delivery, file_id))
            else:
                self._log.settle(
                    delivery.drop.finished(
                        FileStatus.DUPLICATE,
                        file_id=file_id,
                        duplicate_of=applied,
                        reason=None,
                        detail=None,
                        last_error=None,
                    )
                )
        logger.info("file already processed", file_id=file_id, status=FileStatus.ACCEPTED.value)
        return IngestOutcome(file_id=file_id, kind=kind, status=IngestStatus.DUPLICATE)

    def _applied_drop(self, delivery: _Delivery, file_id: str) -> FileDrop:
        if delivery.before.status == FileStatus.ACCEPTED.value:
            return delivery.before
        manifest = FileManifest.model_validate(
            self._store.get_json(self._reports, f"{Prefix.MANIFESTS}{file_id}.json")
        )
        return delivery.drop.finished(
            FileStatus.ACCEPTED,
            file_id=file_id,
            reason=None,
            detail=None,
            duplicate_of=None,
            last_error=None,
            **FileDrop.counted(manifest),
        )

    def _failed(self, delivery: _Delivery, reason: str) -> None:
        """Record a failed delivery: its error on the drop; on the last attempt, the file ends FAILED."""
        logger.warning(
            "file delivery failed", file_id=delivery.file_id, error=reason, last_attempt=delivery.last
        )
        try:
            if delivery.last and delivery.file_id is not None:
                self._write_failed_manifest(delivery, reason)
                self._files.finish(delivery.file_id, FileStatus.FAILED, reason=reason)
            if self._log is not None:
                base = delivery.drop
                if delivery.last:
                    self._log.settle(
                        base.finished(FileStatus.FAILED, file_id=delivery.file_id, reason=reason)
                    )
                else:
                    self._log.settle(
                        base.model_copy(update={"last_error": reason, "file_id": delivery.file_id})
                    )
        except Exception as error:  # the original failure is what the queue must see
            logger.warning("failure not recorded", error=type(error).__name__)

    def _write_failed_manifest(self, delivery: _Delivery, reason: str) -> None:
        staging, kind = delivery.staging, delivery.kind
        if kind is None or delivery.file_id is None:
            return
        if staging is not None and staging.staged is not None:
            manifest = staging.manifest(delivery.key)
        else:
            manifest = FileManifest(
                file_id=delivery.file_id,
                kind=kind,
                source_key=delivery.key,
                status=FileStatus.FAILED,
                rows_read=0,
                accepted=0,
                rejected=0,
                duplicate=0,
                superseded=0,
            )
        failed = manifest.model_copy(update={"status": FileStatus.FAILED, "failure_reason": reason})
        self._store.put_json(
            self._reports, f"{Prefix.MANIFESTS}{delivery.file_id}.json", failed.model_dump(mode="json")
        )

    def _quarantine(self, bucket: str, delivery: _Delivery, staging: Staging) -> IngestOutcome:
        problem = staging.problem
        assert problem is not None
        file_id, key, kind = staging.file_id, delivery.key, delivery.kind
        kind_name = kind.value if kind else "unknown"
        name = safe_file_name(key.rsplit("/", 1)[-1])
        detail = problem.detail or None
        if staging.stored_bytes <= COPY_LIMIT:
            self._store.copy(bucket, key, bucket, f"{Prefix.QUARANTINE}{kind_name}/{file_id}/{name}")
        else:
            detail = f"{detail or problem.reason_code}; too large to copy, it stays at its landing key"
        rejects_key = f"{Prefix.REJECTS}{file_id}.csv"
        self._store.put_bytes(
            self._reports, rejects_key, (REJECTS_HEADER + f",,{problem.reason_code}\n").encode(), "text/csv"
        )
        manifest: FileManifest | None = None
        if kind is not None:
            manifest = staging.manifest(key).model_copy(
                update={"rejects_key": rejects_key, "quarantine_detail": detail}
            )
            self._store.put_json(
                self._reports, f"{Prefix.MANIFESTS}{file_id}.json", manifest.model_dump(mode="json")
            )
        self._files.finish(file_id, FileStatus.QUARANTINED, reason=problem.reason_code)
        if self._log is not None:
            self._log.settle(
                delivery.drop.finished(
                    FileStatus.QUARANTINED,
                    file_id=file_id,
                    reason=problem.reason_code,
                    detail=detail,
                    duplicate_of=None,
                    last_error=None,
                    **(FileDrop.counted(manifest) if manifest else {}),
                )
            )
        logger.warning("file quarantined", file_id=file_id, kind=kind_name, reason=problem.reason_code)
        return IngestOutcome(
            file_id=file_id, kind=kind_name, status=IngestStatus.QUARANTINED, reason=problem.reason_code
        )

    def _accept(
        self, delivery: _Delivery, staging: Staging, staged: StagedFile, workdir: Path
    ) -> IngestOutcome:
        kind, file_id = staged.kind, staging.file_id
        curated = PeriodSpill(workdir / "curated-rows", _OUTPUT_SPILL_MEMORY)
        evidence_log = PeriodSpill(workdir / "evidence-rows", _OUTPUT_SPILL_MEMORY)
        effect = self._apply(staged, file_id, curated, evidence_log)
        curated_keys = self._write_curated(staged.kind, curated, file_id, workdir)
        self._write_evidence_log(evidence_log, file_id, workdir)
        rejects_key = None
        if staged.counts.rejected:
            rejects_key = f"{Prefix.REJECTS}{file_id}.csv"
            path = workdir / "rejects.csv"
            write_rejects_csv(staged.reject_lines(), path)
            self._store.put_file(self._reports, rejects_key, path, "text/csv")
        coverage = None
        if kind is FileKind.ELIGIBILITY:
            accepted = staged.accepted()
            if accepted is not None:
                dates = accepted.select("enrollment_start_date", "enrollment_end_date").collect()
                coverage = roster_coverage(dates, self._now().date())
        manifest = staging.manifest(delivery.key).model_copy(
            update={"rejects_key": rejects_key, "curated_keys": tuple(curated_keys), "coverage": coverage}
        )
        # Only now, with the gap state applied, does the manifest say ACCEPTED.
        self._store.put_json(
            self._reports, f"{Prefix.MANIFESTS}{file_id}.json", manifest.model_dump(mode="json")
        )
        if self._log is not None:
            # Before the content reads ACCEPTED, so a redelivery always knows which key applied it.
            self._log.mark_applied(file_id, delivery.key)
        self._files.finish(file_id, FileStatus.ACCEPTED, manifest=manifest)
        if self._log is not None:
            self._log.settle(
                delivery.drop.finished(
                    FileStatus.ACCEPTED,
                    file_id=file_id,
                    reason=None,
                    detail=None,
                    duplicate_of=None,
                    last_error=None,
                    **FileDrop.counted(manifest),
                )
            )
        outcome = IngestOutcome(
            file_id=file_id,
            kind=kind.value,
            status=IngestStatus.ACCEPTED,
            accepted=manifest.accepted,
            rejected=manifest.rejected,
            evidence=effect.applied,
            evidence_withheld=effect.withheld,
            evidence_retracted=effect.retracted,
        )
        # The outcome is ids, kinds and counts only, so it can be logged whole.
        logger.info("file accepted", **outcome.model_dump(mode="json"), skipped=staging.skipped_resources)
        return outcome

    def _write_curated(self, kind: FileKind, spill: PeriodSpill, file_id: str, workdir: Path) -> list[str]:
        """Accepted rows as `curated/<kind>/period=<YYYY-MM>/<file_id>.parquet`, streamed from the spill; the
        kinds attribution reads by member bucket under the bucket's segment too (`curated_partition`)."""
        keys = []
        for name, path in sink_by_period(spill, workdir / "curated"):
            key = f"{Prefix.CURATED}{kind.value}/{name}/{file_id}.parquet"
            self._store.put_file(self._curated, key, path, PARQUET_TYPE)
            path.unlink()
            keys.append(key)
        return keys

    def _write_evidence_log(self, spill: PeriodSpill, file_id: str, workdir: Path) -> None:
        """Every evidence row the file yields, net or not, in `evidence/period=<month>/<file_id>.parquet`."""
        for name, path in sink_by_period(spill, workdir / "evidence-log"):
            key = f"{Prefix.EVIDENCE}period={name}/{file_id}.parquet"
            self._store.put_file(self._curated, key, path, PARQUET_TYPE)
            path.unlink()

    def _actions(self) -> list[ActionDefinition]:
        return [a for program in self._catalog.versions for a in program.actions]

    def _apply(
        self, staged: StagedFile, file_id: str, curated: PeriodSpill, evidence_log: PeriodSpill
    ) -> VersionEffect:
        """Write what the file means for the gap state, one member group at a time: clinics, providers,
        roster, or net evidence. Members are disjoint across groups, so each group is netted on its own.
        Each group's rows go to `curated` by period as they pass."""
        kind = staged.kind
        column = staged.schema.period_column
        period = pl.col(column).dt.strftime("%Y-%m") if column else pl.lit(CURRENT_PERIOD)
        total = VersionEffect()
        actions = self._actions()
        for rows in staged.groups():
            curated.add(rows, curated_partition(kind, rows, period, self._member_buckets))
            effect = self._apply_group(kind, rows, file_id, actions, evidence_log)
            total = VersionEffect(
                applied=total.applied + effect.applied,
                withheld=total.withheld + effect.withheld,
                retracted=total.retracted + effect.retracted,
            )
        return total

    def _apply_group(
        self,
        kind: FileKind,
        rows: pl.DataFrame,
        file_id: str,
        actions: list[ActionDefinition],
        evidence_log: PeriodSpill,
    ) -> VersionEffect:
        if kind is FileKind.CLINICS:
            # Each clinics file says where a clinic is now, and each payer's row its track with that payer;
            # what it was before, and the other payers' tracks, are kept in its history.
            self._gaps.put_clinics(merge_clinic_rows(self._gaps.clinics(), clinic_rows(rows)))
            return VersionEffect()
        if kind is FileKind.ELIGIBILITY:
            profiles, spans = roster_from_rows(rows)
            self._gaps.put_roster(profiles, spans)
            return VersionEffect()
        if kind is FileKind.PROVIDERS:
            # Reference data, as clinics are: each row is one affiliation, kept (and ended) by its key.
            self._gaps.put_providers(providers_from_rows(rows))
            return VersionEffect()
        extract = _EXTRACTORS.get(kind)
        if extract is None:
            return VersionEffect()
        evidence = extract(rows, actions, file_id)
        evidence_log.add(evidence, pl.col("action_date").dt.strftime("%Y-%m"))
        versions = _VERSIONS[kind](rows, file_id) if kind in _VERSIONS else []
        if self._keeper is not None:
            return self._keeper.apply(versions, evidence)
        return VersionEffect(applied=self._gaps.put_evidence(evidence))


def sink_by_period(spill: PeriodSpill, directory: Path) -> Iterator[tuple[str, Path]]:
    """Each period of `spill` written as one snappy Parquet file, in period order: (period, path). One
    period at a time (a sink partitioned by period holds buffers for every period at once)."""
    for name in spill.names():
        path = directory / f"{name}.parquet"
        spill.sink(name, path)
        yield name, path


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
