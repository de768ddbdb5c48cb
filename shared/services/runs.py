"""A payment run up to its shards' results: OpenRun, PlanShards, BuildPart, EarnShard and MarkFailed.

The steps are the same for every kind of run; what differs (period, open checks, how a shard earns) is
the kind's module (`shared/services/kinds/`). Every step after OpenRun works only on an OPEN run, so a
step invoked on a closed, approved or paid run refuses and moves no money. AggregateRun, RenderStatements
and CloseRun settle the results: `shared/services/settlement.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from pydantic import ValidationError

from shared import clock
from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.dal.files import FileLog, FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.logic.member_buckets import MEMBER_BUCKETS, checked_count, member_bucket
from shared.models.ledger import DEFAULT_PAYER
from shared.models.runs import (
    BuildPartInput,
    EarnShardInput,
    FailedRun,
    FailInput,
    OpenRunInput,
    PartResult,
    Plan,
    Run,
    RunFailure,
    RunMode,
    RunRef,
    RunRequest,
    RunStatus,
    ShardMembers,
    ShardRef,
    ShardResult,
    final_run_id,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.benchmark import load_benchmark
from shared.programs.care_gap import ProgramCatalog
from shared.programs.catalog import Programs, ProgramSet
from shared.services.failures import failure_of, fields_of
from shared.services.kinds import RunContext, RunInputError, kind_of
from shared.services.kinds.base import parts_key as kind_parts_key
from shared.services.page_data import pages_as_of, program_year
from shared.services.page_facts import PageIndex, page_index_key, write_shard_page_facts
from shared.services.registry import DEFAULT_CHART_REQUEST_DAYS
from shared.services.run_records import require_open, require_run
from shared.services.settlement import SettlementService, manifest_key, result_key
from shared.services.shard_memo import ShardMemo


class WrongMachineError(DomainError):
    """A run request of one kind was sent to another kind's state machine."""


class RunAlreadyClosedError(DomainError):
    """The final run of this period is CALCULATED or later; it cannot be started again."""


def run_id_for(request: RunRequest, period: str, suffix: str) -> str:
    """`<kind>-<period>-final`, or `<kind>-<period>-preview-<suffix>` so each preview is its own run (an
    execution named `<kind>-<period>-preview-…` by the operator API gives its name as it is)."""
    if request.mode is RunMode.FINAL:
        return final_run_id(request.run_kind, period)
    base = f"{request.run_kind.value}-{period}-{request.mode.value}"
    return suffix if suffix.startswith(f"{base}-") else f"{base}-{suffix}"


def parse_request(body: dict[str, object]) -> RunRequest:
    """The execution input as a `RunRequest`, or RunInputError naming each bad field (never its value)."""
    try:
        return RunRequest.model_validate(body)
    except ValidationError as error:
        raise RunInputError(f"the run request is not valid: {fields_of(error)}") from None


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
        files: FileRegistry,
        catalog: ProgramCatalog,
        curated_bucket: str,
        reports_bucket: str,
        shard_size: int,
        programs: ProgramSet | None = None,
        now: clock.Clock = clock.now,
        sleep: clock.Sleep = clock.sleep,
        payer: str = DEFAULT_PAYER,
        pages: bool = False,
        log: FileLog | None = None,
        member_buckets: int = MEMBER_BUCKETS,
    ) -> None:
        """`payer` pays what the run writes where its evidence names no payer (the deploying plan);
        `programs` are every program's versions (default: `catalog` and the packaged Benchmark ones);
        `pages`: RenderStatements writes the clinic and plan pages, reading `log` for the plan's intake;
        `member_buckets`: how many member buckets the curated claims and attribution tables are filed in."""
        self._store = store
        self._gaps = gaps
        self._runs = runs
        self._curated = curated_bucket
        self._shard_size = shard_size
        self._now = now
        self._pages = pages
        self._context = RunContext(
            objects=store,
            curated=curated_bucket,
            gaps=gaps,
            ledger=ledger,
            runs=runs,
            files=files,
            catalog=catalog,
            programs=programs or Programs(care_gap=catalog, benchmark=load_benchmark()),
            now=now,
            payer=payer,
            member_buckets=checked_count(member_buckets),
        )
        self.settlement = SettlementService(
            store=store,
            context=self._context,
            curated_bucket=curated_bucket,
            reports_bucket=reports_bucket,
            sleep=sleep,
            pages=pages,
            log=log,
        )

    # OpenRun
    def open(self, item: OpenRunInput) -> RunRef:
        """Create the run, resume it, or reopen it for recalculation; refuse what must not run now."""
        request = parse_request(item.request)
        if request.run_kind is not item.machine:
            raise WrongMachineError(
                f"a {request.run_kind.value} run was sent to the {item.machine.value} state machine; "
                f"start it with `p4p run {request.run_kind.value}`"
            )
        kind = kind_of(request.run_kind)
        period = kind.period(request)
        run_id = run_id_for(request, period, item.execution_name or uuid.uuid4().hex[:12])
        if request.mode is RunMode.FINAL:
            kind.check_open(self._context, request, period)
        elif request.recalculate:
            raise RunInputError("only a final run is recalculated; a preview is simply run again")
        if request.recalculate:
            return self._reopen(run_id, request)
        now = self._now()
        new = Run(
            run_id=run_id,
            run_kind=request.run_kind,
            period=period,
            mode=request.mode,
            program_year=request.program_year,
            started_at=now,
            updated_at=now,
            operators=(request.requested_by,),
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
                f"run {run_id} is {existing.effective_status.value}; it cannot be started again"
                + (
                    ""
                    if existing.approval
                    else f" (while it is not approved: `p4p run recalculate {run_id}`)"
                )
            )
        existing = self._runs.transition(
            existing,
            RunStatus.OPEN,
            allowed_from={RunStatus.OPEN, RunStatus.FAILED},
            operator=request.requested_by,
        )
        logger.info("run resumed", run_id=run_id)
        return _ref(existing, resumed=True)

    def _reopen(self, run_id: str, request: RunRequest) -> RunRef:
        existing = require_run(self._runs, run_id)
        if existing.approval is not None or existing.status is not RunStatus.CALCULATED:
            raise RunAlreadyClosedError(
                f"run {run_id} is {existing.effective_status.value}; only a CALCULATED run that is not "
                "approved can be recalculated"
            )
        try:
            reopened = self._runs.transition(
                existing,
                RunStatus.OPEN,
                allowed_from={RunStatus.CALCULATED},
                operator=request.requested_by,
                unapproved=True,
            )
        except StaleVersionError:
            raise RunAlreadyClosedError(
                f"run {run_id} was approved or changed while it was being reopened; look again"
            ) from None
        logger.info("run reopened for recalculation", run_id=run_id)
        return _ref(reopened, resumed=True)

    # PlanShards
    def plan(self, run: RunRef) -> Plan:
        """Split the members into shards of `shard_size` and write the manifest the Map reads."""
        require_open(self._runs, run.run_id)
        kind = kind_of(run.run_kind)
        parts = kind.prepare(self._context, run)
        # Clinic by clinic, so a clinic's members fall in few shards (its page merges a part per shard); or,
        # for a kind whose shards read per-bucket parts, by member bucket, so each shard reads few of them.
        ordered: list[str] = []
        registries: dict[str, list[str]] = {}
        for clinic_id in sorted(self._gaps.clinics()):
            for member_id in sorted(set(self._gaps.member_ids(clinic_id))):
                if member_id not in registries:
                    ordered.append(member_id)
                registries.setdefault(member_id, []).append(clinic_id)
        if kind.shards_by_bucket:
            count = self._context.member_buckets
            ordered.sort(key=lambda member_id: (member_bucket(member_id, count), member_id))
        pages = self._pages and kind.writes_pages
        as_of = pages_as_of(run, self._now().date()) if pages else None
        refs = []
        holding: dict[str, list[str]] = {}
        for number, start in enumerate(range(0, len(ordered), self._shard_size)):
            shard_id = f"{number:05d}"
            key = f"{Prefix.RUNS}{run.run_id}/shards/{shard_id}.json"
            chunk = tuple(ordered[start : start + self._shard_size])
            clinic_members: dict[str, list[str]] = {}
            if pages:
                for member_id in chunk:
                    for clinic_id in registries[member_id]:
                        clinic_members.setdefault(clinic_id, []).append(member_id)
                for clinic_id in clinic_members:
                    holding.setdefault(clinic_id, []).append(shard_id)
            body = ShardMembers(
                run_id=run.run_id,
                shard_id=shard_id,
                member_ids=chunk,
                clinic_members={c: tuple(ids) for c, ids in clinic_members.items()},
                pages_as_of=as_of,
            )
            self._store.put_json(self._curated, key, body.model_dump(mode="json"))
            refs.append(ShardRef(shard_id=shard_id, members_key=key))
        if as_of is not None:
            index = PageIndex(as_of=as_of, shards={c: tuple(s) for c, s in sorted(holding.items())})
            self._store.put_json(self._curated, page_index_key(run.run_id), index.model_dump(mode="json"))
        manifest = manifest_key(run.run_id)
        self._store.put_json(self._curated, manifest, [r.model_dump(mode="json") for r in refs])
        parts_key = None
        if parts:  # what the BuildParts map builds before the shards, one member-bucket part an item
            parts_key = kind_parts_key(run.run_id)
            self._store.put_json(self._curated, parts_key, [p.model_dump(mode="json") for p in parts])
        logger.info(
            "run planned",
            run_id=run.run_id,
            shard_count=len(refs),
            member_count=len(ordered),
            part_count=len(parts),
        )
        return Plan(
            bucket=self._curated,
            manifest_key=manifest,
            shard_count=len(refs),
            parts_key=parts_key,
            part_count=len(parts),
        )

    # BuildPart
    def build_part(self, item: BuildPartInput) -> PartResult:
        """Build one member-bucket part of what the run's kind prepared, before its shards earn."""
        require_open(self._runs, item.run.run_id)
        result = kind_of(item.run.run_kind).build_part(self._context, item.run, item.part)
        logger.info("part built", run_id=item.run.run_id, **result.model_dump())
        return result

    # EarnShard
    def earn(self, item: EarnShardInput) -> ShardResult:
        """Earn one shard as the run's kind does, and write its result file."""
        run, shard = item.run, item.shard
        require_open(self._runs, run.run_id)
        members = ShardMembers.model_validate(self._store.get_json(self._curated, shard.members_key))
        facts = self._gaps.members(members.member_ids)
        # The shard's members' gaps, computed once, and their ledger histories as read and recorded here.
        memo = ShardMemo()
        context = replace(self._context, memo=memo, ledger=memo.watch(self._context.ledger))
        output = kind_of(run.run_kind).earn(context, run, shard.shard_id, facts)
        if members.pages_as_of is not None:
            # The pages' part of the shard, counted while its members are here (before the result, which
            # tells the Map the shard is done).
            write_shard_page_facts(
                context,
                run.run_id,
                shard.shard_id,
                members.clinic_members,
                facts,
                members.pages_as_of,
                program_year(run),
                DEFAULT_CHART_REQUEST_DAYS,
            )
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

    # MarkFailed
    def fail(self, item: FailInput) -> FailedRun:
        """Record why the run failed and mark an OPEN run FAILED; a closed run is never moved.

        Returns the reason the execution reports: the domain error's name and message, or for anything
        else the error's type alone (a stack trace or a foreign message may quote data we must not keep).
        """
        error, message = failure_of(item.error, item.step)
        if item.run is None:
            logger.warning("run failed before it was opened", error=error, step=item.step)
            return FailedRun(run_id=None, status=RunStatus.FAILED, error=error, cause=message)
        run = self._runs.get(item.run.run_id)
        if run is None:
            return FailedRun(run_id=item.run.run_id, status=RunStatus.FAILED, error=error, cause=message)
        if run.status is RunStatus.OPEN:
            failure = RunFailure(error=error, message=message, step=item.step, at=self._now())
            try:
                run = self._runs.transition(
                    run, RunStatus.FAILED, allowed_from={RunStatus.OPEN}, failure=failure
                )
            except StaleVersionError:
                run = require_run(self._runs, run.run_id)
        logger.warning("run failed", run_id=run.run_id, status=run.status.value, error=error, step=item.step)
        return FailedRun(run_id=run.run_id, status=run.effective_status, error=error, cause=message)
