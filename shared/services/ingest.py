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
from collections.abc import Callable, Iterable, Iterator
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
from shared.intake.pipeline import in_order
from shared.intake.reader import CURRENT_PERIOD, Staging, hash_file
from shared.intake.shards import cut_file, shardable, stage_shard
from shared.intake.source import MAX_FILE_BYTES
from shared.intake.spill import KeyedFiles, PeriodSpill, RowsByKey
from shared.intake.staging import Counts, StagedFile
from shared.intake.validation import SOURCE_ROW
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
from shared.logic.member_buckets import (
    BY_BUCKET,
    BY_PERIOD_AND_BUCKET,
    MEMBER_BUCKETS,
    checked_count,
    curated_partition,
)
from shared.logic.roster import (
    clinic_rows,
    coverage_bounds,
    coverage_of,
    providers_from_rows,
    roster_coverage,
    roster_from_rows,
)
from shared.models.evidence import Evidence, evidence_frame
from shared.models.fanout import ShardRef, ShardRequest, ShardResult, SplitOutcome, SplitPlan
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
"""Bytes of curated rows held in memory before they go to local files (a file whose curated rows spill)."""
UPLOADS_AT_ONCE = 16
"""Curated and evidence-log files a function uploads at once (threads waiting on S3)."""


class IngestStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    QUARANTINED = "QUARANTINED"
    DUPLICATE = "DUPLICATE"
    FANNED_OUT = "FANNED_OUT"
    """Too large for one function: handed to the fan-out state machine, which ends it (docs/ingest.md)."""


FanOutStarter = Callable[[str, str, str], None]
"""Starts the fan-out of `bucket/key` for one delivery (its id third): the deployment's state machine."""


class IngestOutcome(BaseModel):
    """What happened to one object; safe to log (ids, kinds and counts only)."""

    model_config = ConfigDict(frozen=True)

    file_id: str | None
    """None only for a file handed to the fan-out (it is hashed there)."""
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
    token: str = ""
    """What names this delivery (the SQS message id): a fan-out it starts is named by it."""
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
        fan_out: FanOutStarter | None = None,
        workers: int = 1,
    ) -> None:
        """`versions` nets claims across files (without it each file is netted on its own only); `log`
        records each drop (`p4p files`); `scratch` is where a file is staged (default: the temp dir);
        `max_file_bytes` the largest file taken (what one function applies in its time; benchmarks of the
        streaming itself go past it); `member_buckets` how many member buckets claims and rosters are filed
        in (the deployment's `MEMBER_BUCKETS`); `fan_out` starts the fan-out of a file past
        `max_file_bytes` (without it such a file is TOO_LARGE); `workers` how many of an evidence file's
        member groups are applied at once (`shared.intake.pipeline`; reference data one at a time)."""
        self._fan_out = fan_out
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
        self._workers = workers

    def ingest(
        self,
        bucket: str,
        key: str,
        *,
        attempt: int = 1,
        last_attempt: bool = False,
        delivery_id: str | None = None,
    ) -> IngestOutcome:
        """Process the object `bucket/key` once per content. `attempt` counts this delivery (SQS's receive
        count); on the `last_attempt` a failure ends the file FAILED (and the error still propagates, so
        the message goes to the dead-letter queue). `delivery_id` (the SQS message's id) names the fan-out
        of a file too large for this function, so a redelivered message starts it once."""
        kind: FileKind | None = None
        unknown: QuarantineError | None = None
        try:
            kind = kind_from_key(key)
        except QuarantineError as problem:
            unknown = problem
        before = now = FileDrop(key=key)
        if self._log is not None:
            before, now = self._log.landed(key, kind=kind, attempt=attempt, last=last_attempt)
        delivery = _Delivery(
            key=key, kind=kind, last=last_attempt, drop=now, before=before, token=delivery_id or f"{attempt}"
        )
        try:
            return self._deliver(bucket, delivery, unknown)
        except Exception as error:
            self._failed(delivery, type(error).__name__)
            raise

    def _deliver(self, bucket: str, delivery: _Delivery, unknown: QuarantineError | None) -> IngestOutcome:
        stream, size = self._store.open_stream(bucket, delivery.key)
        if self._can_fan_out(delivery.kind) and size > self._max_file_bytes:
            _close(stream)
            return self._hand_over(bucket, delivery)
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
                    member_buckets=self._member_buckets,
                )
            _close(stream)
            previous = self._files.begin(staging.file_id, kind=delivery.kind, source_key=delivery.key)
            if previous is FileStatus.ACCEPTED:
                return self._duplicate(delivery, staging.file_id)
            # From here the content is this delivery's: a failure now may end it FAILED.
            delivery.file_id, delivery.staging = staging.file_id, staging
            # Only an applied file is a duplicate: a quarantined or failed one is processed again.
            if staging.problem is not None:
                if staging.problem.reason_code == "TOO_LARGE" and self._can_fan_out(delivery.kind):
                    # A gzip that inflates past the limit: its stored size could not tell.
                    return self._hand_over(bucket, delivery)
                return self._quarantine(bucket, delivery, staging)
            assert staging.staged is not None and delivery.kind is not None
            return self._accept(delivery, staging, staging.staged, workdir)

    def _can_fan_out(self, kind: FileKind | None) -> bool:
        return self._fan_out is not None and kind is not None and shardable(kind)

    def _hand_over(self, bucket: str, delivery: _Delivery) -> IngestOutcome:
        """Start the fan-out of a file too large for this function; its steps end the file."""
        assert self._fan_out is not None and delivery.kind is not None
        self._fan_out(bucket, delivery.key, delivery.token)
        logger.info("file fanned out", kind=delivery.kind.value)
        return IngestOutcome(file_id=None, kind=delivery.kind.value, status=IngestStatus.FANNED_OUT)

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
        effect, curated_keys = self._apply_and_write(staged, file_id, workdir)
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
        return self._accepted(delivery, manifest, effect, staging.skipped_resources)

    def _accepted(
        self, delivery: _Delivery, manifest: FileManifest, effect: VersionEffect, skipped: int
    ) -> IngestOutcome:
        """The file's gap state is applied: its manifest says ACCEPTED, its drop and registry item too."""
        file_id, kind = manifest.file_id, manifest.kind
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
        logger.info("file accepted", **outcome.model_dump(mode="json"), skipped=skipped)
        return outcome

    def _apply_and_write(
        self, staged: StagedFile, file_id: str, workdir: Path, part: str = ""
    ) -> tuple[VersionEffect, list[str]]:
        """Apply the staged rows (`_apply`), then write their curated rows and evidence log; the effect and
        the curated keys. `part` names a fanned-out file's shard."""
        # A kind filed by member bucket comes a group of whole buckets at a time (`Stager`): each of its
        # curated files is written from one group, with no spill to write and read back.
        curated: RowsByKey = (
            KeyedFiles(workdir / "curated-rows")
            if staged.kind in BY_BUCKET | BY_PERIOD_AND_BUCKET and staged.whole_buckets(self._member_buckets)
            else PeriodSpill(workdir / "curated-rows", _OUTPUT_SPILL_MEMORY)
        )
        effect, evidence_logs = self._apply(staged, file_id, curated, workdir / "evidence-rows")
        curated_keys = self._write_curated(staged.kind, curated, file_id, workdir, part)
        self._write_evidence_log(evidence_logs, file_id, workdir, part)
        return effect, curated_keys

    def _write_curated(
        self, kind: FileKind, spill: RowsByKey, file_id: str, workdir: Path, part: str = ""
    ) -> list[str]:
        """Accepted rows as `curated/<kind>/period=<YYYY-MM>/<file_id><part>.parquet`, streamed from the
        spill; the kinds attribution reads by member bucket under the bucket's segment too
        (`curated_partition`). `part` names a fanned-out file's shard (`-s0003`)."""
        return self._upload(
            (f"{Prefix.CURATED}{kind.value}/{name}/{file_id}{part}.parquet", path)
            for name, path in sink_by_period(spill, workdir / "curated")
        )

    def _write_evidence_log(
        self, logs: list[KeyedFiles], file_id: str, workdir: Path, part: str = ""
    ) -> None:
        """Every evidence row the file yields, net or not, in
        `evidence/period=<month>/<file_id><part>.parquet`; a file of several member groups writes a file
        per group in each period (`<file_id><part>-g0002.parquet`), as each group's worker made it."""

        def files() -> Iterator[tuple[str, Path]]:
            for number, log in enumerate(logs):
                group = f"-g{number:04d}" if len(logs) > 1 else ""
                for name, path in sink_by_period(log, workdir / "evidence-log" / f"g{number:05d}"):
                    yield f"{Prefix.EVIDENCE}period={name}/{file_id}{part}{group}.parquet", path

        self._upload(files())

    def _upload(self, files: Iterable[tuple[str, Path]]) -> list[str]:
        """PUT each (key, local file) to the curated bucket and delete the file, `UPLOADS_AT_ONCE` at a
        time (each PUT waits on S3; a million claim lines over 13 months and 128 buckets are 1,663
        curated files); the keys, in order."""

        def put(file: tuple[str, Path]) -> str:
            key, path = file
            self._store.put_file(self._curated, key, path, PARQUET_TYPE)
            path.unlink()
            return key

        return list(in_order(put, files, workers=UPLOADS_AT_ONCE))

    # The fan-out (docs/ingest.md, "Fan-out"): split → one ingest per shard (in parallel) → finish, or
    # fail. Each step's writes are keyed by the file's hash and the shard's number, so a step run again
    # after a crash writes the same objects and items.

    def split(self, bucket: str, key: str, *, shards: int | None = None) -> SplitOutcome:
        """The first pass: hash the file, cut it into member-hash shards under `staging/<file_id>/` and
        claim its content; or end it as a DUPLICATE of an applied file, or QUARANTINED."""
        kind = kind_from_key(key)
        if not shardable(kind):
            raise ValueError(f"files of kind {kind.value} are not fanned out")
        delivery = self._fanned_delivery(key, kind)
        stream, size = self._store.open_stream(bucket, key)
        with self._workdir() as workdir:
            cut = cut_file(stream, kind=kind, stored_bytes=size, shards=shards, workdir=workdir)
            _close(stream)
            previous = self._files.begin(cut.file_id, kind=kind, source_key=key)
            if previous is FileStatus.ACCEPTED:
                self._duplicate(delivery, cut.file_id)
                return SplitOutcome(
                    file_id=cut.file_id, status=IngestStatus.DUPLICATE.value, bucket=self._curated
                )
            delivery.file_id = cut.file_id
            if cut.problem is not None:
                staging = Staging(
                    file_id=cut.file_id, kind=kind, staged=None, problem=cut.problem, stored_bytes=size
                )
                self._quarantine(bucket, delivery, staging)
                return SplitOutcome(
                    file_id=cut.file_id, status=IngestStatus.QUARANTINED.value, bucket=self._curated
                )
            refs = []
            for number in range(len(cut.shards)):
                path = workdir / f"shard-{number:04d}.parquet"
                cut.write_shard(number, path)
                shard_key = _staging_key(cut.file_id, f"shard-{number:04d}.parquet")
                self._store.put_file(self._curated, shard_key, path, PARQUET_TYPE)
                path.unlink()
                refs.append(ShardRef(shard=number, key=shard_key, rows=cut.shard_rows(number)))
        plan = SplitPlan(
            file_id=cut.file_id,
            kind=kind,
            source_key=key,
            rows_read=cut.rows_read,
            padded=cut.padded,
            skipped_resources=cut.skipped_resources,
            as_of=self._now().date(),
            shards=tuple(refs),
        )
        self._store.put_json(
            self._curated, _staging_key(cut.file_id, "plan.json"), plan.model_dump(mode="json")
        )
        requests = tuple(ShardRequest(file_id=cut.file_id, shard=ref.shard) for ref in refs)
        items_key = _staging_key(cut.file_id, "shards.json")
        self._store.put_json(self._curated, items_key, [r.model_dump(mode="json") for r in requests])
        logger.info("file split", file_id=cut.file_id, kind=kind.value, shards=len(refs))
        return SplitOutcome(
            file_id=cut.file_id, status="SPLIT", bucket=self._curated, items_key=items_key, shards=requests
        )

    def ingest_shard(self, file_id: str, shard: int) -> ShardResult:
        """Validate, reconcile and apply one shard as a file is (its rows keep the file's row numbers);
        its curated rows, evidence log and rejects under its own names; its accounting to
        `staging/<file_id>/shard-NNNN.json`."""
        plan = self._plan(file_id)
        if not 0 <= shard < len(plan.shards):
            raise ValueError(f"file {file_id} has {len(plan.shards)} shards, not shard {shard}")
        ref, kind, part = plan.shards[shard], plan.kind, f"-s{shard:04d}"
        with self._workdir() as workdir:
            path = workdir / "shard.parquet"
            self._store.download(self._curated, ref.key, path)
            staged = stage_shard(
                path,
                kind=kind,
                as_of=plan.as_of,
                workdir=workdir,
                padded=plan.padded,
                rows=ref.rows,
                member_buckets=self._member_buckets,
            )
            path.unlink()
            effect, curated_keys = self._apply_and_write(staged, file_id, workdir, part)
            rejects_key = None
            if staged.counts.rejected:
                rejects_key = _staging_key(file_id, f"shard-{shard:04d}.rejects.parquet")
                rejects = workdir / "rejects.parquet"
                staged.reject_lines().sink_parquet(rejects)
                self._store.put_file(self._curated, rejects_key, rejects, PARQUET_TYPE)
            bounds = None
            if kind is FileKind.ELIGIBILITY and (accepted := staged.accepted()) is not None:
                dates = accepted.select("enrollment_start_date", "enrollment_end_date").collect()
                bounds = coverage_bounds(dates, plan.as_of)
        counts = staged.counts
        result = ShardResult(
            shard=shard,
            rows_read=counts.rows_read,
            accepted=counts.accepted,
            rejected=counts.rejected,
            duplicate=counts.duplicate,
            superseded=counts.superseded,
            evidence=effect.applied,
            evidence_withheld=effect.withheld,
            evidence_retracted=effect.retracted,
            curated_keys=tuple(curated_keys),
            rejects_key=rejects_key,
            coverage=bounds,
        )
        self._store.put_json(
            self._curated, _staging_key(file_id, f"shard-{shard:04d}.json"), result.model_dump(mode="json")
        )
        logger.info("shard applied", file_id=file_id, shard=shard, accepted=counts.accepted)
        return result

    def finish_split(self, bucket: str, key: str, file_id: str) -> IngestOutcome:
        """Add every shard's accounting into the file's one manifest and one rejects report (rows in file
        order), then ACCEPTED. Refused while a shard has no result."""
        plan = self._plan(file_id)
        if plan.source_key != key:
            raise ValueError(f"file {file_id} was split from another key")
        results = [
            ShardResult.model_validate(
                self._store.get_json(self._curated, _staging_key(file_id, f"shard-{ref.shard:04d}.json"))
            )
            for ref in plan.shards
        ]
        totals = Counts(
            rows_read=sum(r.rows_read for r in results),
            accepted=sum(r.accepted for r in results),
            rejected=sum(r.rejected for r in results),
            duplicate=sum(r.duplicate for r in results),
            superseded=sum(r.superseded for r in results),
        )
        if totals.rows_read != plan.rows_read:
            raise ValueError(f"file {file_id}: its shards read {totals.rows_read} rows of {plan.rows_read}")
        delivery = self._fanned_delivery(key, plan.kind)
        delivery.file_id = file_id
        rejects_key = None
        parts = [r.rejects_key for r in results if r.rejects_key]
        with self._workdir() as workdir:
            if parts:
                rejects_key = f"{Prefix.REJECTS}{file_id}.csv"
                local = []
                for number, part_key in enumerate(parts):
                    local.append(workdir / f"rejects-{number:04d}.parquet")
                    self._store.download(self._curated, part_key, local[-1])
                lines = pl.concat([pl.scan_parquet(path) for path in local]).sort(
                    SOURCE_ROW, maintain_order=True
                )
                path = workdir / "rejects.csv"
                write_rejects_csv(lines, path)
                self._store.put_file(self._reports, rejects_key, path, "text/csv")
        coverage = None
        if plan.kind is FileKind.ELIGIBILITY:
            coverage = coverage_of([r.coverage for r in results if r.coverage], plan.as_of)
        manifest = FileManifest(
            file_id=file_id,
            kind=plan.kind,
            source_key=key,
            status=FileStatus.ACCEPTED,
            rows_read=totals.rows_read,
            accepted=totals.accepted,
            rejected=totals.rejected,
            duplicate=totals.duplicate,
            superseded=totals.superseded,
            rejects_key=rejects_key,
            curated_keys=tuple(sorted(k for r in results for k in r.curated_keys)),
            coverage=coverage,
        )
        effect = VersionEffect(
            applied=sum(r.evidence for r in results),
            withheld=sum(r.evidence_withheld for r in results),
            retracted=sum(r.evidence_retracted for r in results),
        )
        # The staged shards expire with the `staging/` lifecycle rule (a finish run again reads them).
        return self._accepted(delivery, manifest, effect, plan.skipped_resources)

    def fail_split(self, key: str, error: str, file_id: str | None = None) -> None:
        """A fan-out step failed after its retries: the file ends FAILED with the error's name (an applied
        file, or one applied by another delivery, stays as it is)."""
        kind = kind_from_key(key)
        delivery = self._fanned_delivery(key, kind)
        if delivery.before.status == FileStatus.ACCEPTED.value and delivery.before.file_id == file_id:
            return
        delivery.file_id = file_id
        self._failed(delivery, error)

    def _fanned_delivery(self, key: str, kind: FileKind) -> _Delivery:
        drop = (self._log.drop(key) if self._log is not None else None) or FileDrop(key=key)
        return _Delivery(key=key, kind=kind, last=True, drop=drop, before=drop)

    def _plan(self, file_id: str) -> SplitPlan:
        return SplitPlan.model_validate(
            self._store.get_json(self._curated, _staging_key(file_id, "plan.json"))
        )

    def _actions(self) -> list[ActionDefinition]:
        return [a for program in self._catalog.versions for a in program.actions]

    def _apply(
        self, staged: StagedFile, file_id: str, curated: RowsByKey, evidence_rows: Path
    ) -> tuple[VersionEffect, list[KeyedFiles]]:
        """Write what the file means for the gap state, a member group at a time: clinics, providers,
        roster, or net evidence. Members are disjoint across groups, so each group is netted on its own,
        and an evidence file's groups are applied `workers` at a time. Each group's rows go to `curated`
        by period (in the groups' order where that is kept, `PeriodSpill`), and its evidence to a log of
        its own under `evidence_rows`, by period; the effect and the groups' logs, in group order."""
        kind = staged.kind
        column = staged.schema.period_column
        period = pl.col(column).dt.strftime("%Y-%m") if column else pl.lit(CURRENT_PERIOD)
        action_month = pl.col("action_date").dt.strftime("%Y-%m")
        actions = self._actions()
        # A group's curated rows are written from its worker when each of its files is its own
        # (`KeyedFiles`); rows spilled by period go in the groups' order, from here.
        whole = isinstance(curated, KeyedFiles)

        def keep(rows: pl.DataFrame) -> None:
            curated.add(rows, curated_partition(kind, rows, period, self._member_buckets))

        def work(group: tuple[int, pl.DataFrame]) -> tuple[pl.DataFrame | None, KeyedFiles, VersionEffect]:
            number, rows = group
            if whole:
                keep(rows)
            evidence, effect = self._apply_group(kind, rows, file_id, actions)
            log = KeyedFiles(evidence_rows / f"g{number:05d}")
            if evidence is not None:
                log.add(evidence, action_month)
            return (None if whole else rows), log, effect

        total = VersionEffect()
        logs: list[KeyedFiles] = []
        workers = self._workers if kind in _EXTRACTORS else 1
        for rows, log, effect in in_order(work, enumerate(staged.groups()), workers=workers):
            if rows is not None:
                keep(rows)
            logs.append(log)
            total = VersionEffect(
                applied=total.applied + effect.applied,
                withheld=total.withheld + effect.withheld,
                retracted=total.retracted + effect.retracted,
            )
        return total, logs

    def _apply_group(
        self, kind: FileKind, rows: pl.DataFrame, file_id: str, actions: list[ActionDefinition]
    ) -> tuple[pl.DataFrame | None, VersionEffect]:
        """Apply one member group; its evidence frame for the evidence log (None for reference data)."""
        if kind is FileKind.CLINICS:
            # Each clinics file says where a clinic is now, and each payer's row its track with that payer;
            # what it was before, and the other payers' tracks, are kept in its history.
            self._gaps.put_clinics(merge_clinic_rows(self._gaps.clinics(), clinic_rows(rows)))
            return None, VersionEffect()
        if kind is FileKind.ELIGIBILITY:
            profiles, spans = roster_from_rows(rows)
            self._gaps.put_roster(profiles, spans)
            return None, VersionEffect()
        if kind is FileKind.PROVIDERS:
            # Reference data, as clinics are: each row is one affiliation, kept (and ended) by its key.
            self._gaps.put_providers(providers_from_rows(rows))
            return None, VersionEffect()
        extract = _EXTRACTORS.get(kind)
        if extract is None:
            return None, VersionEffect()
        evidence = extract(rows, actions, file_id)
        versions = _VERSIONS[kind](rows, file_id) if kind in _VERSIONS else []
        if self._keeper is not None:
            return evidence, self._keeper.apply(versions, evidence)
        return evidence, VersionEffect(applied=self._gaps.put_evidence(evidence))


def _close(stream: object) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def _staging_key(file_id: str, name: str) -> str:
    return f"{Prefix.STAGING}{file_id}/{name}"


def sink_by_period(spill: RowsByKey, directory: Path) -> Iterator[tuple[str, Path]]:
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
