"""A payment run up to its shards' results: OpenRun, PlanShards, EarnShard and MarkFailed.

Monthly runs pay SVUs: each shard computes its members' awards up to the run month and, in `final` mode,
records them in the ledger with conditional writes. The annual run uses the same steps but, for now,
computes per-clinic measure rates for every action with a measure definition (`shared/logic/rates.py`)
into the shard results and a rates report, with zero payment entries; Benchmark P4P money comes later.
AggregateRun, RenderStatements and CloseRun settle the results: `shared/services/settlement.py`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.logic.awards import member_awards
from shared.logic.dates import month_end
from shared.logic.eligibility import span_on
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.logic.rates import measure_counts
from shared.logic.reversals import settle_member
from shared.models.gaps import Gap, GapStatus
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import (
    ClosedRun,
    EarnShardInput,
    FailInput,
    Plan,
    Run,
    RunKind,
    RunMode,
    RunRef,
    RunRequest,
    RunStatus,
    ShardMembers,
    ShardOutput,
    ShardRef,
    ShardResult,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.care_gap import ProgramCatalog
from shared.services.lifecycle import earlier_final_runs, require_run
from shared.services.settlement import SettlementService, manifest_key, result_key


class RunAlreadyClosedError(Exception):
    """The final run of this period is CALCULATED or later; it cannot be started again."""


class EarlierRunOpenError(Exception):
    """An earlier month's final run is OPEN or FAILED: finish it first, or its entries would be skipped."""


def run_id_for(request: RunRequest, suffix: str | None = None) -> str:
    """`<kind>-<period>-final`, or `<kind>-<period>-preview-<suffix>` so each preview is its own run."""
    base = f"{request.run_kind.value}-{request.period}-{request.mode.value}"
    if request.mode is RunMode.FINAL:
        return base
    return f"{base}-{suffix or request.execution_name or uuid.uuid4().hex[:12]}"


def _ref(run: Run, *, resumed: bool) -> RunRef:
    return RunRef(
        run_id=run.run_id,
        run_kind=run.run_kind,
        period=run.period,
        mode=run.mode,
        status=run.status,
        resumed=resumed,
    )


class RunService:
    """Use cases of a payment run; repositories and buckets come in through the constructor.

    `settlement` is the same run's AggregateRun, RenderStatements and CloseRun, on the same storage.
    """

    def __init__(
        self,
        *,
        store: ObjectStore,
        gaps: GapStateRepository,
        ledger: LedgerRepository,
        runs: RunRegistry,
        catalog: ProgramCatalog,
        curated_bucket: str,
        reports_bucket: str,
        shard_size: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._gaps = gaps
        self._ledger = ledger
        self._runs = runs
        self._catalog = catalog
        self._curated = curated_bucket
        self._shard_size = shard_size
        self._clock = clock
        self.settlement = SettlementService(
            store=store,
            gaps=gaps,
            ledger=ledger,
            runs=runs,
            catalog=catalog,
            curated_bucket=curated_bucket,
            reports_bucket=reports_bucket,
        )

    # OpenRun
    def open(self, request: RunRequest) -> RunRef:
        """Create the run, or resume the same final run unless it is already closed."""
        run_id = run_id_for(request)
        if request.mode is RunMode.FINAL and request.run_kind is RunKind.MONTHLY:
            self._refuse_if_earlier_unfinished(request.period)
        now = self._clock()
        new = Run(
            run_id=run_id,
            run_kind=request.run_kind,
            period=request.period,
            mode=request.mode,
            program_year=request.program_year,
            started_at=now,
            updated_at=now,
        )
        try:
            self._runs.create(new)
            logger.info("run opened", run_id=run_id)
            return _ref(new, resumed=False)
        except AlreadyRecordedError:
            pass
        existing = require_run(self._runs, run_id)
        if existing.status.closed:
            raise RunAlreadyClosedError(
                f"run {run_id} is {existing.status.value}; it cannot be started again"
            )
        if existing.status is RunStatus.FAILED:
            existing = self._runs.transition(existing, RunStatus.OPEN, allowed_from={RunStatus.FAILED})
        logger.info("run resumed", run_id=run_id)
        return _ref(existing, resumed=True)

    def _refuse_if_earlier_unfinished(self, period: str) -> None:
        for other in earlier_final_runs(self._runs, period):
            if not other.status.closed:
                raise EarlierRunOpenError(
                    f"run {other.run_id} is {other.status.value}; start it again to finish it first"
                )

    # PlanShards
    def plan(self, run: RunRef) -> Plan:
        """Split the members into shards of `shard_size` and write the manifest the Map reads."""
        member_ids: set[str] = set()
        for clinic_id in sorted(self._gaps.clinics()):
            member_ids.update(self._gaps.member_ids(clinic_id))
        ordered = sorted(member_ids)
        refs = []
        for number, start in enumerate(range(0, len(ordered), self._shard_size)):
            shard_id = f"{number:05d}"
            key = f"{Prefix.RUNS}{run.run_id}/shards/{shard_id}.json"
            chunk = tuple(ordered[start : start + self._shard_size])
            body = ShardMembers(run_id=run.run_id, shard_id=shard_id, member_ids=chunk)
            self._store.put_json(self._curated, key, body.model_dump(mode="json"))
            refs.append(ShardRef(shard_id=shard_id, members_key=key))
        manifest = manifest_key(run.run_id)
        self._store.put_json(self._curated, manifest, [r.model_dump(mode="json") for r in refs])
        logger.info("run planned", run_id=run.run_id, shard_count=len(refs), member_count=len(ordered))
        return Plan(bucket=self._curated, manifest_key=manifest, shard_count=len(refs))

    # EarnShard
    def earn(self, item: EarnShardInput) -> ShardResult:
        """Compute one shard's awards (monthly) or measure counts (annual) and write its result file."""
        run, shard = item.run, item.shard
        members = ShardMembers.model_validate(self._store.get_json(self._curated, shard.members_key))
        clinics = self._gaps.clinics()
        facts = [f for f in (self._gaps.member(m) for m in members.member_ids) if f is not None]
        if run.run_kind is RunKind.ANNUAL:
            output = self._annual_shard(run, shard.shard_id, facts)
        else:
            output = self._monthly_shard(run, shard.shard_id, facts, clinics)
        key = result_key(run.run_id, shard.shard_id)
        self._store.put_json(self._curated, key, output.model_dump(mode="json"))
        logger.info(
            "shard earned",
            run_id=run.run_id,
            shard_id=shard.shard_id,
            entry_count=len(output.entries),
            skipped_paid_earlier=output.skipped_paid_earlier,
        )
        return ShardResult(
            shard_id=shard.shard_id,
            result_key=key,
            entry_count=len(output.entries),
            total_cents=output.total_cents,
        )

    def _monthly_shard(
        self, run: RunRef, shard_id: str, facts: list[MemberFacts], clinics: dict[str, Clinic]
    ) -> ShardOutput:
        """Settle each member against its ledger history: reversals of lost awards, then new awards.

        History includes this run's own entries, so a retried or resumed shard appends only what is
        missing and reports everything this run recorded for its members.
        """
        ours: list[LedgerEntry] = []
        skipped = 0
        preview = run.mode is RunMode.PREVIEW
        as_of = month_end(run.period)
        changed_gaps: list[Gap] = []
        digests: dict[str, dict[str, str]] = {}
        for member in facts:
            member_id = member.profile.member_id
            supported = member_awards(
                member, clinics=clinics, catalog=self._catalog, through_month=run.period, run_id=run.run_id
            )
            state = self._ledger.member_state(member_id)
            wanted = settle_member(state.entries, supported, run_id=run.run_id, month=run.period)
            if preview:
                taken = self._ledger.existing_ids(e.entry_id for e in wanted) if wanted else set()
                ours += [e for e in wanted if e.entry_id not in taken]
                skipped += len(taken)
                continue
            ours += [e for e in state.entries if e.run_id == run.run_id]
            for entry in wanted:
                stored, _ = self._ledger.record(entry)
                # The history copy follows the entry, so a crash between the two is healed here.
                self._ledger.index_member(stored)
                if stored.run_id == run.run_id:
                    ours.append(stored)
                else:
                    skipped += 1  # recorded by an earlier run whose history copy was missing
            digest = dict(state.gap_digest)
            for gap in self._member_gaps(member, clinics, as_of):
                key, fingerprint = f"{gap.action}#{gap.period}", _fingerprint(gap)
                # A not-applicable gap of a month, quarter or visit that never applied is not worth an item.
                never_applied = gap.status is GapStatus.NOT_APPLICABLE and key not in digest
                if never_applied and gap.period != str(as_of.year):
                    continue
                if digest.get(key) != fingerprint:
                    changed_gaps.append(gap)
                    digest[key] = fingerprint
            if digest != state.gap_digest:
                digests[member_id] = digest
        if not preview:
            # Gaps before digests: a crash in between rewrites the same gaps on the retry.
            self._gaps.put_gaps(changed_gaps)
            for member_id, digest in digests.items():
                self._ledger.put_gap_digest(member_id, digest)
        unique = {e.entry_id: e for e in ours}
        return ShardOutput(
            run_id=run.run_id,
            shard_id=shard_id,
            entries=tuple(unique[i] for i in sorted(unique)),
            skipped_paid_earlier=skipped,
        )

    def _member_gaps(self, member: MemberFacts, clinics: dict[str, Clinic], as_of: date) -> list[Gap]:
        """Every gap of the member in the program in force at month end, as known then."""
        program = self._catalog.find(as_of)
        if program is None:
            return []
        span = span_on(member.spans, as_of)
        clinic = clinics.get(span.clinic_id) if span else None
        # member_gaps, not build_gap per action: HCC-DX has one gap per condition.
        view = MemberView.of_facts(member)
        return member_gaps(view, program, as_of=as_of, track=clinic.track if clinic else None)

    def _annual_shard(self, run: RunRef, shard_id: str, facts: list[MemberFacts]) -> ShardOutput:
        year = int(run.period)
        program = self._catalog.find(date(year, 12, 31))
        counts = measure_counts(facts, program=program, year=year) if program else []
        return ShardOutput(run_id=run.run_id, shard_id=shard_id, measure_counts=tuple(counts))

    # MarkFailed
    def fail(self, item: FailInput) -> ClosedRun:
        """Mark an OPEN run FAILED; a closed run is never moved, an absent run is left alone."""
        if item.run is None:
            logger.warning("run failed before it was opened", error=item.error_type)
            return ClosedRun(run_id=None, status=RunStatus.FAILED)
        run = self._runs.get(item.run.run_id)
        if run is None:
            return ClosedRun(run_id=item.run.run_id, status=RunStatus.FAILED)
        if run.status is RunStatus.OPEN:
            try:
                run = self._runs.transition(
                    run, RunStatus.FAILED, allowed_from={RunStatus.OPEN}, failure=item.error_type
                )
            except StaleVersionError:
                run = require_run(self._runs, run.run_id)
        logger.warning("run failed", run_id=run.run_id, status=run.status.value, error=item.error_type)
        return ClosedRun(run_id=run.run_id, status=run.status)


def _fingerprint(gap: Gap) -> str:
    """A short content hash of a gap item: equal hashes mean the stored item is already current."""
    body = json.dumps(gap.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]
