"""The payment-run steps, one method per state-machine task (OpenRun … CloseRun, MarkFailed).

Monthly runs pay SVUs: each shard computes its members' awards up to the run month and, in `final` mode,
records them in the ledger with conditional writes. The annual run uses the same steps but, for now,
computes per-clinic BCS-E measure rates (denominator/numerator/rate from the gap engine) into the shard
results and a rates report, with zero payment entries; Benchmark P4P money comes with later work.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

from shared.dal.errors import AlreadyRecordedError, NotFoundError, StaleVersionError
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.logic.awards import member_awards
from shared.logic.eligibility import span_on
from shared.logic.gaps import build_gap
from shared.logic.rates import measure_counts
from shared.models.gaps import Gap
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import (
    AggregateInput,
    ClosedRun,
    CloseInput,
    EarnShardInput,
    FailInput,
    MeasureCount,
    Plan,
    RenderInput,
    Run,
    RunKind,
    RunMode,
    RunRef,
    RunRequest,
    RunStatus,
    RunTotals,
    ShardMembers,
    ShardOutput,
    ShardRef,
    ShardResult,
    StatementsResult,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.care_gap import ProgramCatalog
from shared.services.statements import (
    payment_csv,
    payment_total_cents,
    rates_csv,
    statement_csv,
    statement_html,
)

LEDGER_READ_ATTEMPTS = 4


class RunAlreadyClosedError(Exception):
    """The final run of this period is CALCULATED or later; it cannot be started again."""


class RunNotFoundError(Exception):
    """A step was asked to work on a run the registry does not know."""


class ShardResultMissingError(Exception):
    """A shard of the plan has no result file: the Map did not finish."""


class ReconciliationError(Exception):
    """Ledger, statements and payment file totals disagree; the run must not close."""


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


def _month_end(month: str) -> date:
    year, mon = int(month[:4]), int(month[5:7])
    following = date(year + mon // 12, mon % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


class RunService:
    """Use cases of a payment run; repositories and buckets come in through the constructor."""

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
        self._reports = reports_bucket
        self._shard_size = shard_size
        self._clock = clock

    # OpenRun
    def open(self, request: RunRequest) -> RunRef:
        """Create the run, or resume the same final run unless it is already closed."""
        run_id = run_id_for(request)
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
        existing = self._require(run_id)
        if existing.status.closed:
            raise RunAlreadyClosedError(
                f"run {run_id} is {existing.status.value}; it cannot be started again"
            )
        if existing.status is RunStatus.FAILED:
            existing = self._runs.transition(existing, RunStatus.OPEN, allowed_from={RunStatus.FAILED})
        logger.info("run resumed", run_id=run_id)
        return _ref(existing, resumed=True)

    def _require(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFoundError(f"run {run_id} not found")
        return run

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
        manifest_key = f"{Prefix.RUNS}{run.run_id}/shards.json"
        self._store.put_json(self._curated, manifest_key, [r.model_dump(mode="json") for r in refs])
        logger.info("run planned", run_id=run.run_id, shard_count=len(refs), member_count=len(ordered))
        return Plan(bucket=self._curated, manifest_key=manifest_key, shard_count=len(refs))

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
        result_key = f"{Prefix.RUNS}{run.run_id}/results/{shard.shard_id}.json"
        self._store.put_json(self._curated, result_key, output.model_dump(mode="json"))
        logger.info(
            "shard earned",
            run_id=run.run_id,
            shard_id=shard.shard_id,
            entry_count=len(output.entries),
            skipped_paid_earlier=output.skipped_paid_earlier,
        )
        return ShardResult(
            shard_id=shard.shard_id,
            result_key=result_key,
            entry_count=len(output.entries),
            total_cents=output.total_cents,
        )

    def _monthly_shard(
        self, run: RunRef, shard_id: str, facts: list[MemberFacts], clinics: dict[str, Clinic]
    ) -> ShardOutput:
        awards: list[LedgerEntry] = []
        for member in facts:
            awards += member_awards(
                member, clinics=clinics, catalog=self._catalog, through_month=run.period, run_id=run.run_id
            )
        if run.mode is RunMode.PREVIEW:
            paid = self._ledger.existing_ids(e.entry_id for e in awards)
            ours = [e for e in awards if e.entry_id not in paid]
            return ShardOutput(
                run_id=run.run_id,
                shard_id=shard_id,
                entries=tuple(ours),
                skipped_paid_earlier=len(awards) - len(ours),
            )
        ours, skipped = [], 0
        for entry in awards:
            try:
                self._ledger.put_if_absent(entry)
                ours.append(entry)
            except AlreadyRecordedError as recorded:
                # Written by this run before a retry: still ours. Written by an earlier run: paid already.
                if recorded.existing_run_id == run.run_id:
                    ours.append(entry)
                else:
                    skipped += 1
        self._gaps.put_gaps(self._gaps_as_of(facts, clinics, _month_end(run.period)))
        return ShardOutput(
            run_id=run.run_id, shard_id=shard_id, entries=tuple(ours), skipped_paid_earlier=skipped
        )

    def _gaps_as_of(self, facts: list[MemberFacts], clinics: dict[str, Clinic], as_of: date) -> list[Gap]:
        program = self._catalog.find(as_of)
        if program is None:
            return []
        gaps = []
        for member in facts:
            span = span_on(member.spans, as_of)
            clinic = clinics.get(span.clinic_id) if span else None
            for action in program.actions:
                gaps.append(
                    build_gap(
                        profile=member.profile,
                        spans=member.spans,
                        evidence=member.evidence,
                        action=action,
                        program=program,
                        period_year=as_of.year,
                        as_of=as_of,
                        track=clinic.track if clinic else None,
                    )
                )
        return gaps

    def _annual_shard(self, run: RunRef, shard_id: str, facts: list[MemberFacts]) -> ShardOutput:
        year = int(run.period)
        program = self._catalog.find(date(year, 12, 31))
        counts = measure_counts(facts, program=program, year=year) if program else []
        return ShardOutput(run_id=run.run_id, shard_id=shard_id, measure_counts=tuple(counts))

    # AggregateRun
    def _outputs(self, run_id: str, manifest_bucket: str, manifest_key: str) -> list[ShardOutput]:
        refs = [ShardRef.model_validate(r) for r in self._store.get_json(manifest_bucket, manifest_key)]
        outputs = []
        for ref in refs:
            key = f"{Prefix.RUNS}{run_id}/results/{ref.shard_id}.json"
            try:
                outputs.append(ShardOutput.model_validate(self._store.get_json(self._curated, key)))
            except NotFoundError:
                raise ShardResultMissingError(f"shard {ref.shard_id} of run {run_id} has no result") from None
        return outputs

    def aggregate(self, item: AggregateInput) -> RunTotals:
        """Sum the shard results per clinic and write the run summary."""
        run = item.run
        outputs = self._outputs(run.run_id, item.plan.bucket, item.plan.manifest_key)
        by_clinic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for out in outputs:
            for e in out.entries:
                by_clinic[e.clinic_id][0] += 1
                by_clinic[e.clinic_id][1] += e.amount_cents
        counts = _merge_counts(outputs)
        entry_count = sum(v[0] for v in by_clinic.values())
        total = sum(v[1] for v in by_clinic.values())
        summary = {
            "run_id": run.run_id,
            "run_kind": run.run_kind.value,
            "period": run.period,
            "mode": run.mode.value,
            "entry_count": entry_count,
            "total_cents": total,
            "skipped_paid_earlier": sum(o.skipped_paid_earlier for o in outputs),
            "clinics": {c: {"entry_count": v[0], "total_cents": v[1]} for c, v in sorted(by_clinic.items())},
            "measure_counts": [m.model_dump(mode="json") for m in counts],
        }
        self._store.put_json(self._reports, f"{Prefix.RUNS}{run.run_id}/summary.json", summary)
        clinic_count = (
            len(by_clinic) if run.run_kind is RunKind.MONTHLY else len({m.clinic_id for m in counts})
        )
        logger.info("run aggregated", run_id=run.run_id, entry_count=entry_count, clinic_count=clinic_count)
        return RunTotals(entry_count=entry_count, total_cents=total, clinic_count=clinic_count)

    # RenderStatements
    def render(self, item: RenderInput) -> StatementsResult:
        """Write a statement per clinic (CSV + HTML), the payment file and, for annual runs, the rates."""
        run = item.run
        outputs = self._outputs(run.run_id, self._curated, f"{Prefix.RUNS}{run.run_id}/shards.json")
        entries_by_clinic: dict[str, list[LedgerEntry]] = defaultdict(list)
        for out in outputs:
            for e in out.entries:
                entries_by_clinic[e.clinic_id].append(e)
        clinics = self._gaps.clinics()
        missing = sorted(set(entries_by_clinic) - set(clinics))
        if missing:
            raise ReconciliationError(f"{len(missing)} paid clinic(s) missing from the clinic registry")
        totals = {c: sum(e.amount_cents for e in es) for c, es in entries_by_clinic.items()}
        for clinic_id, entries in sorted(entries_by_clinic.items()):
            base = f"{Prefix.STATEMENTS}{run.run_id}/{clinic_id}"
            self._store.put_bytes(
                self._reports, f"{base}.csv", statement_csv(run.run_id, clinic_id, entries), "text/csv"
            )
            page = statement_html(run.run_id, clinics[clinic_id], entries)
            self._store.put_bytes(self._reports, f"{base}.html", page, "text/html")
        payment_key = f"{Prefix.PAYMENTS}{run.run_id}.csv"
        self._store.put_bytes(
            self._reports, payment_key, payment_csv(run.run_id, totals, clinics), "text/csv"
        )
        if run.run_kind is RunKind.ANNUAL:
            rates_key = f"{Prefix.RUNS}{run.run_id}/rates.csv"
            self._store.put_bytes(self._reports, rates_key, rates_csv(_merge_counts(outputs)), "text/csv")
        total = sum(totals.values())
        if total != item.totals.total_cents:
            raise ReconciliationError("statements total differs from the aggregated total")
        logger.info("statements rendered", run_id=run.run_id, statement_count=len(totals), total_cents=total)
        return StatementsResult(statement_count=len(totals), payment_file_key=payment_key, total_cents=total)

    # CloseRun
    def close(self, item: CloseInput) -> ClosedRun:
        """Check ledger = statements = payment file to the cent, then move the run OPEN -> CALCULATED."""
        run = self._require(item.run.run_id)
        if run.status.closed:
            return ClosedRun(run_id=run.run_id, status=run.status)
        payment_total = payment_total_cents(
            self._store.get_bytes(self._reports, item.statements.payment_file_key)
        )
        expected = {item.totals.total_cents, item.statements.total_cents, payment_total}
        if len(expected) != 1:
            raise ReconciliationError("aggregated, statement and payment file totals differ")
        ledger_total, ledger_count = self._recorded_total(item.run, payment_total)
        if ledger_total != payment_total or ledger_count != item.totals.entry_count:
            raise ReconciliationError("ledger total differs from statements and payment file")
        closed = self._runs.transition(
            run,
            RunStatus.CALCULATED,
            allowed_from={RunStatus.OPEN},
            entry_count=ledger_count,
            total_cents=ledger_total,
        )
        logger.info("run calculated", run_id=run.run_id, entry_count=ledger_count, total_cents=ledger_total)
        return ClosedRun(run_id=closed.run_id, status=closed.status)

    def _recorded_total(self, run: RunRef, expected: int) -> tuple[int, int]:
        """The run's own ledger total (final) or its shard results' total (preview writes no ledger)."""
        if run.mode is RunMode.PREVIEW or run.run_kind is RunKind.ANNUAL:
            outputs = self._outputs(run.run_id, self._curated, f"{Prefix.RUNS}{run.run_id}/shards.json")
            return sum(o.total_cents for o in outputs), sum(len(o.entries) for o in outputs)
        total, count = 0, 0
        # gsi1 is eventually consistent: give freshly written entries a moment to appear.
        for attempt in range(LEDGER_READ_ATTEMPTS):
            entries = list(self._ledger.by_run(run.run_id))
            total, count = sum(e.amount_cents for e in entries), len(entries)
            if total == expected:
                break
            time.sleep(0.5 * 2**attempt)
        return total, count

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
                run = self._require(run.run_id)
        logger.warning("run failed", run_id=run.run_id, status=run.status.value, error=item.error_type)
        return ClosedRun(run_id=run.run_id, status=run.status)


def _merge_counts(outputs: list[ShardOutput]) -> list[MeasureCount]:
    den: dict[tuple[str, str], int] = defaultdict(int)
    num: dict[tuple[str, str], int] = defaultdict(int)
    for out in outputs:
        for m in out.measure_counts:
            den[(m.clinic_id, m.action)] += m.denominator
            num[(m.clinic_id, m.action)] += m.numerator
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
