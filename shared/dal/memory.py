"""In-memory repositories for tests and benchmarks (no production module imports them), no AWS.

Each behaves as its DynamoDB, S3 or Step Functions implementation does where a caller can tell
(`tests/contract/` runs the same tests on both), and charges a `WriteMeter` (`shared/dal/metering.py`) the
write units the DynamoDB repositories would consume for the same calls.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import clock
from shared.dal.claim_versions import ClaimVersion, ClaimVersionRepository
from shared.dal.errors import AlreadyRecordedError, NotFoundError, StaleVersionError
from shared.dal.evidence_codec import drop_claims
from shared.dal.executions import ExecutionStarter
from shared.dal.files import (
    APPLIED_SK,
    FILE_SK,
    FILES_INDEX_KEY,
    PROCESSING,
    FileDrop,
    FileLog,
    FileRegistry,
    drop_item,
    file_pk,
    landed_drop,
    submission_of,
)
from shared.dal.gap_state import (
    EvidenceBatch,
    GapStateRepository,
    digest,
    distinct_evidence,
    packed_evidence_items,
    unpack_item,
)
from shared.dal.ledger import LedgerRepository, MemberRunState
from shared.dal.metering import WriteMeter as WriteMeter
from shared.dal.metering import (
    approval_item,
    clinic_item,
    digest_item,
    entry_item,
    evidence_item,
    gap_item,
    history_item,
    index_sort_key,
    profile_item,
    provider_item,
    run_item,
    span_item,
)
from shared.dal.metering import item_size as item_size
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.models.evidence import Evidence
from shared.models.files import Coverage, FileKind, FileManifest, FileStatus, FileSubmission
from shared.models.gaps import Gap
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic, EligibilitySpan, MemberFacts, MemberProfile, ProviderAffiliation
from shared.models.runs import Approval, Run, RunFailure, RunStatus


def _last_by_key(items: Iterable[Any], key: Any) -> dict[Any, Any]:
    """A batch as a batch write takes it: one item per key, the last one given."""
    return {key(i): i for i in items}


class MemoryObjectStore(ObjectStore):
    """Objects in a dict keyed by (bucket, key)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise NotFoundError("object not found") from None

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.objects[(bucket, key)] = bytes(data)

    def put_once(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        if (bucket, key) in self.objects:
            raise AlreadyRecordedError(f"object {key}")
        self.objects[(bucket, key)] = bytes(data)

    def copy(self, bucket: str, key: str, dest_bucket: str, dest_key: str) -> None:
        self.objects[(dest_bucket, dest_key)] = self.get_bytes(bucket, key)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Sorted keys of `bucket` under `prefix`."""
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def sizes(self, bucket: str, prefix: str = "") -> dict[str, int]:
        return {k: len(v) for (b, k), v in self.objects.items() if b == bucket and k.startswith(prefix)}


class MemoryFileRegistry(FileRegistry):
    """`FileRegistry` in a dict of the Registry table's file items (plus each file's `manifest`, for
    tests), with the same take-over rule for PROCESSING files; a finish sets what it is given and keeps
    the rest, as DynamoDB's update does."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._meter = meter or WriteMeter()

    @staticmethod
    def _stored(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k != "manifest"}

    def begin(self, file_id: str, *, kind: FileKind | None, source_key: str) -> FileStatus | None:
        current = self.items.get(file_id)
        if current is not None and current["status"] != PROCESSING:
            return FileStatus(current["status"])
        now = clock.now().isoformat()
        item = {
            "pk": file_pk(file_id),
            "sk": FILE_SK,
            "gsi1pk": FILES_INDEX_KEY,
            "gsi1sk": now,
            "file_id": file_id,
            "kind": kind.value if kind else None,
            "source_key": source_key,
            "status": PROCESSING,
            "started_at": now,
        }
        self.items[file_id] = item
        self._meter.charge("registry", item, old=self._stored(current) if current else None)
        return None

    def finish(
        self,
        file_id: str,
        status: FileStatus,
        *,
        manifest: FileManifest | None = None,
        reason: str | None = None,
    ) -> None:
        item = self.items.setdefault(file_id, {"pk": file_pk(file_id), "sk": FILE_SK})
        before = self._stored(item)
        item |= {"status": status.value, "finished_at": clock.now().isoformat()}
        if manifest is not None:
            counts = ("rows_read", "accepted", "rejected", "duplicate", "superseded")
            item |= {name: getattr(manifest, name) for name in counts}
            if manifest.coverage is not None:
                item["coverage"] = manifest.coverage.model_dump(mode="json")
            item["manifest"] = manifest.model_dump(mode="json")
        if reason is not None:
            item["quarantine_reason"] = reason
        self._meter.charge("registry", self._stored(item), old=before)

    def eligibility_coverage(self) -> list[Coverage]:
        return [
            Coverage.model_validate(i["coverage"])
            for i in self.items.values()
            if i.get("kind") == FileKind.ELIGIBILITY.value
            and i.get("status") == FileStatus.ACCEPTED.value
            and i.get("coverage")
        ]

    def submissions(self, kinds: Iterable[FileKind]) -> list[FileSubmission]:
        wanted = {k.value for k in kinds}
        return [
            submission_of(i)
            for i in self.items.values()
            if i.get("kind") in wanted and i.get("status") == FileStatus.ACCEPTED.value
        ]


class MemoryGapStateRepository(GapStateRepository):
    """`GapStateRepository` in dicts keyed like the GapState table."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.meter = meter or WriteMeter()
        self.clinic_items: dict[str, Clinic] = {}
        self.provider_items: dict[tuple[str, str, str], ProviderAffiliation] = {}
        self.profiles: dict[str, MemberProfile] = {}
        self.spans: dict[tuple[str, str], EligibilitySpan] = {}
        self.gaps: dict[tuple[str, str], Gap] = {}
        # Per-member indexes, so `member()` does not scan every member (runs read members one by one).
        self._spans_of: dict[str, dict[str, EligibilitySpan]] = {}
        self._packed_of: dict[str, dict[str, str]] = {}
        """Packed evidence items per member: sort key → packed text, as in the table."""

    def put_clinics(self, clinics: Iterable[Clinic]) -> int:
        batch = _last_by_key(clinics, lambda c: c.clinic_id)
        for clinic_id, c in batch.items():
            old = self.clinic_items.get(clinic_id)
            self.clinic_items[clinic_id] = c
            self.meter.charge("clinics", clinic_item(c), old=clinic_item(old) if old else None)
        return len(batch)

    def clinics(self) -> dict[str, Clinic]:
        """By id, in id order (the CLINICS index's sort key)."""
        return dict(sorted(self.clinic_items.items()))

    def put_providers(self, providers: Iterable[ProviderAffiliation]) -> int:
        batch = _last_by_key(providers, lambda a: (a.npi, a.practice_id, a.effective_date.isoformat()))
        for key, a in batch.items():
            old = self.provider_items.get(key)
            self.provider_items[key] = a
            self.meter.charge("providers", provider_item(a), old=provider_item(old) if old else None)
        return len(batch)

    def providers(self) -> tuple[ProviderAffiliation, ...]:
        """In NPI, practice and effective date order (the PROVIDERS index's sort key)."""
        return tuple(a for _, a in sorted(self.provider_items.items()))

    def put_roster(self, profiles: Iterable[MemberProfile], spans: Iterable[EligibilitySpan]) -> int:
        new_profiles = _last_by_key(profiles, lambda p: p.member_id)
        for member_id, p in new_profiles.items():
            old = self.profiles.get(member_id)
            self.profiles[member_id] = p
            self.meter.charge("roster", profile_item(p), old=profile_item(old) if old else None)
        new_spans = _last_by_key(spans, lambda s: (s.member_id, s.start.isoformat()))
        for (member_id, start), s in new_spans.items():
            replaced = self.spans.get((member_id, start))
            self.spans[(member_id, start)] = s
            self._spans_of.setdefault(member_id, {})[start] = s
            self.meter.charge("roster", span_item(s), old=span_item(replaced) if replaced else None)
        return len(new_profiles) + len(new_spans)

    def put_evidence(self, evidence: EvidenceBatch) -> int:
        items, rows = packed_evidence_items(evidence)
        for item in items:
            member_id = item["pk"].removeprefix("MEMBER#")
            packed = self._packed_of.setdefault(member_id, {})
            old = packed.get(item["sk"])
            packed[item["sk"]] = item["evidence"]
            replaced = evidence_item(member_id, item["sk"], old, digest(old)) if old is not None else None
            self.meter.charge("evidence", item, old=replaced)
        return rows

    def retract_claims(self, claims: Mapping[str, Collection[str]]) -> int:
        removed = 0
        for member_id, keys in sorted(claims.items()):
            packed = self._packed_of.get(member_id, {})
            for sk, text in sorted(packed.items()):
                kept, gone = drop_claims(text, frozenset(keys))
                if not gone:
                    continue
                removed += gone
                old = evidence_item(member_id, sk, text, digest(text))
                if kept:
                    packed[sk] = kept
                    new = evidence_item(member_id, sk, kept, digest(kept))
                    self.meter.charge("evidence_retracted", new, old=old)
                else:
                    del packed[sk]
                    self.meter.charge("evidence_retracted", old)
        return removed

    def retract(self, member_id: str, evidence_id: str) -> None:
        """Remove one evidence item wherever it is packed (tests: any kind of evidence withdrawn)."""
        packed = self._packed_of.get(member_id, {})
        for sk, text in list(packed.items()):
            kept = [
                line
                for line in text.split("\n")
                if unpack_item(member_id, sk, line)[0].evidence_id != evidence_id
            ]
            if kept:
                packed[sk] = "\n".join(kept)
            else:
                del packed[sk]

    def evidence_of(self, member_id: str) -> tuple[Evidence, ...]:
        """One member's evidence, as `member()` reads it: items in sort key order, so of one fact in two
        files the one of the file whose id sorts last stands, as it does on DynamoDB."""
        items = sorted(self._packed_of.get(member_id, {}).items())
        return distinct_evidence(e for sk, text in items for e in unpack_item(member_id, sk, text))

    @property
    def evidence(self) -> dict[tuple[str, str], Evidence]:
        """Every evidence item by (member id, evidence id), for tests and benchmarks."""
        return {(m, e.evidence_id): e for m in sorted(self._packed_of) for e in self.evidence_of(m)}

    def put_gaps(self, gaps: Iterable[Gap]) -> int:
        batch = _last_by_key(gaps, lambda g: (g.member_id, f"{g.action}#{g.period}"))
        for key, g in batch.items():
            old = self.gaps.get(key)
            self.gaps[key] = g
            self.meter.charge("gaps", gap_item(g), old=gap_item(old) if old else None)
        return len(batch)

    def member(self, member_id: str) -> MemberFacts | None:
        profile = self.profiles.get(member_id)
        if profile is None:
            return None
        spans = tuple(s for _, s in sorted(self._spans_of.get(member_id, {}).items()))
        return MemberFacts(profile=profile, spans=spans, evidence=self.evidence_of(member_id))

    def member_ids(self, clinic_id: str) -> Iterator[str]:
        return iter(sorted(p.member_id for p in self.profiles.values() if p.clinic_id == clinic_id))


class MemoryClaimVersionRepository(ClaimVersionRepository):
    """`ClaimVersionRepository` in dicts, metered on the gap state's meter (the same table)."""

    def __init__(self, gaps: MemoryGapStateRepository) -> None:
        self._meter = gaps.meter
        self.versions: dict[str, dict[tuple[str, str], ClaimVersion]] = {}

    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        batch = _last_by_key(versions, lambda v: (v.member_id, (v.original_claim_key, v.claim_key)))
        for (member_id, key), v in batch.items():
            held = self.versions.setdefault(member_id, {})
            old = held.get(key)
            held[key] = v
            self._meter.charge("claim_versions", v.item(), old=old.item() if old else None)
        return len(batch)

    def versions_of(self, member_ids: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        return {m: sorted(self.versions[m].values()) for m in set(member_ids) if self.versions.get(m)}


class MemoryRunRegistry(RunRegistry):
    """`RunRegistry` in dicts with the same version, status and approval guards as the DynamoDB one."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.runs: dict[str, Run] = {}
        self.approvals: dict[str, Approval] = {}
        self._meter = meter or WriteMeter()

    def create(self, run: Run) -> None:
        if run.run_id in self.runs:
            raise AlreadyRecordedError("run")
        self.runs[run.run_id] = run
        self._meter.charge("registry", run_item(run))

    def _with_approval(self, run: Run) -> Run:
        return run.model_copy(update={"approval": self.approvals.get(run.run_id)})

    def get(self, run_id: str) -> Run | None:
        run = self.runs.get(run_id)
        return self._with_approval(run) if run else None

    def recent(self, limit: int = 50) -> list[Run]:
        ordered = sorted(self.runs.values(), key=lambda r: r.started_at, reverse=True)[:limit]
        return [self._with_approval(r) for r in ordered]

    def transition(
        self,
        run: Run,
        to: RunStatus,
        *,
        allowed_from: Iterable[RunStatus],
        entry_count: int | None = None,
        total_cents: int | None = None,
        failure: RunFailure | None = None,
        operator: str | None = None,
        draft_sha256: str | None = None,
        unapproved: bool = False,
    ) -> Run:
        current = self.runs.get(run.run_id)
        if current is None or current.version != run.version or current.status not in set(allowed_from):
            raise StaleVersionError("run changed since it was read")
        if unapproved and run.run_id in self.approvals:
            raise StaleVersionError("run was approved since it was read")
        update: dict[str, Any] = {"status": to, "version": current.version + 1, "updated_at": clock.now()}
        optional = {
            "entry_count": entry_count,
            "total_cents": total_cents,
            "last_failure": failure,
            "draft_sha256": draft_sha256,
        }
        update |= {k: v for k, v in optional.items() if v is not None}
        if operator is not None and operator not in current.operators:
            update["operators"] = (*current.operators, operator)
        moved = current.model_copy(update=update)
        self.runs[run.run_id] = moved
        self._meter.charge("registry", run_item(moved), old=run_item(current), transaction=unapproved)
        if unapproved:  # the transaction's check that no approval exists
            self._meter.charge("registry", approval_item(None, run.run_id), transaction=True)
        return self._with_approval(moved)

    def approve(self, run: Run, approval: Approval) -> Run:
        current = self.runs.get(run.run_id)
        if (
            current is None
            or current.version != run.version
            or current.status is not RunStatus.CALCULATED
            or run.run_id in self.approvals
        ):
            raise StaleVersionError("run changed or was approved since it was read")
        self.approvals[run.run_id] = approval
        # One transaction: the check of the run record and the put of the approval.
        self._meter.charge("registry", run_item(current), transaction=True)
        self._meter.charge("approvals", approval_item(approval, run.run_id), transaction=True)
        return self._with_approval(current)

    def mark_paid(self, run_id: str, *, paid_by: str, paid_at: datetime, reference: str, sha256: str) -> Run:
        approval = self.approvals.get(run_id)
        if approval is None or approval.paid_at is not None or approval.payment_sha256 != sha256:
            raise StaleVersionError("approval changed since it was read")
        paid = approval.model_copy(
            update={"paid_by": paid_by, "paid_at": paid_at, "payment_reference": reference}
        )
        self.approvals[run_id] = paid
        self._meter.charge("approvals", approval_item(paid, run_id), old=approval_item(approval, run_id))
        return self._with_approval(self.runs[run_id])


class MemoryLedgerRepository(LedgerRepository):
    """`LedgerRepository` in dicts, charging the write units the Ledger table would bill."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.meter = meter or WriteMeter()
        self.entries: dict[str, LedgerEntry] = {}
        self.history: dict[str, dict[str, LedgerEntry]] = {}
        self.digests: dict[str, dict[str, str]] = {}
        self.reads = 0

    def put_if_absent(self, entry: LedgerEntry) -> None:
        existing = self.entries.get(entry.entry_id)
        if existing is not None:
            raise AlreadyRecordedError("ledger entry", existing_run_id=existing.run_id)
        self.entries[entry.entry_id] = entry
        self.meter.charge("ledger", entry_item(entry))

    def get(self, entry_id: str) -> LedgerEntry | None:
        self.reads += 1
        return self.entries.get(entry_id)

    def index_member(self, entry: LedgerEntry) -> None:
        old = self.history.setdefault(entry.member_id, {}).get(entry.entry_id)
        self.history[entry.member_id][entry.entry_id] = entry
        self.meter.charge("ledger_history", history_item(entry), old=history_item(old) if old else None)

    def index_members(self, entries: Iterable[LedgerEntry]) -> None:
        # One write per copy, as a batch of DynamoDB puts sends each key once (the last one).
        for entry in {e.entry_id: e for e in entries}.values():
            self.index_member(entry)

    def member_state(self, member_id: str) -> MemberRunState:
        self.reads += 1
        entries = [e for _, e in sorted(self.history.get(member_id, {}).items())]
        return MemberRunState(entries=entries, gap_digest=dict(self.digests.get(member_id, {})))

    def put_gap_digest(self, member_id: str, digest: Mapping[str, str]) -> None:
        old = self.digests.get(member_id)
        self.digests[member_id] = dict(digest)
        replaced = digest_item(member_id, old) if old is not None else None
        self.meter.charge("gap_digest", digest_item(member_id, digest), old=replaced)

    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        """In the run index's order: the run's balances, then its member entries, each by clinic and id."""
        return iter(sorted((e for e in self.entries.values() if e.run_id == run_id), key=index_sort_key))

    def balances(self, run_id: str) -> list[LedgerEntry]:
        return [e for e in self.by_run(run_id) if e.is_balance]

    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        return {i for i in entry_ids if i in self.entries}


@dataclass
class RecordedExecutions(ExecutionStarter):
    """`ExecutionStarter` that keeps what would have been started, as running executions: the same name
    and input again is the same execution, the same name with other input is refused."""

    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def start(self, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
        arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
        body = json.dumps(dict(payload))
        for machine, started_name, started_payload in self.started:
            if (machine, started_name) == (state_machine_arn, name):
                if json.dumps(started_payload) != body:
                    raise AlreadyRecordedError(f"execution {name}")
                return arn
        self.started.append((state_machine_arn, name, dict(payload)))
        return arn


class MemoryFileLog(FileLog):
    """`FileLog` in dicts: drops by key and applied keys by content, metered as the Registry's items."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.records: dict[str, FileDrop] = {}
        self.applied: dict[str, str] = {}
        self._meter = meter or WriteMeter()

    def landed(
        self, key: str, *, kind: FileKind | None, attempt: int, last: bool
    ) -> tuple[FileDrop, FileDrop]:
        previous = self.records.get(key)
        current = landed_drop(previous, key, kind, attempt, last)
        self.settle(current)
        return previous or FileDrop(key=key), current

    def settle(self, drop: FileDrop) -> None:
        self.records[drop.key] = drop
        self._meter.charge("registry", drop_item(drop))

    def drop(self, key: str) -> FileDrop | None:
        return self.records.get(key)

    def drops(self) -> list[FileDrop]:
        return sorted(self.records.values(), key=lambda d: (d.landed_at or "", d.key), reverse=True)

    def mark_applied(self, file_id: str, key: str) -> None:
        self.applied[file_id] = key
        self._meter.charge("registry", {"pk": file_pk(file_id), "sk": APPLIED_SK, "source_key": key})

    def applied_key(self, file_id: str) -> str | None:
        return self.applied.get(file_id)
