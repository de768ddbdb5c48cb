"""The payment-run steps, one method per state-machine task (OpenRun … CloseRun, MarkFailed).

Monthly runs pay SVUs: each shard computes its members' awards up to the run month and, in `final` mode,
records them in the ledger with conditional writes. The annual run uses the same steps but, for now,
computes per-clinic BCS-E measure rates (denominator/numerator/rate from the gap engine) into the shard
results and a rates report, with zero payment entries; Benchmark P4P money comes with later work.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from shared.dal.errors import AlreadyRecordedError, NotFoundError, StaleVersionError
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.logic.awards import member_awards
from shared.logic.eligibility import span_on
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.logic.rates import measure_counts
from shared.logic.reversals import carry_balances, settle_member
from shared.models.gaps import Gap, GapStatus
from shared.models.ledger import LedgerEntry
from shared.models.members import CARE_GAP_PROGRAM, Clinic, MemberFacts
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
BALANCES_SHARD = "balances"


class RunAlreadyClosedError(Exception):
    """The final run of this period is CALCULATED or later; it cannot be started again."""


class RunNotFoundError(Exception):
    """A step was asked to work on a run the registry does not know."""


class ShardResultMissingError(Exception):
    """A shard of the plan has no result file: the Map did not finish."""


class ReconciliationError(Exception):
    """Ledger, statements and payment file totals disagree; the run must not close."""


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
        existing = self._require(run_id)
        if existing.status.closed:
            raise RunAlreadyClosedError(
                f"run {run_id} is {existing.status.value}; it cannot be started again"
            )
        if existing.status is RunStatus.FAILED:
            existing = self._runs.transition(existing, RunStatus.OPEN, allowed_from={RunStatus.FAILED})
        logger.info("run resumed", run_id=run_id)
        return _ref(existing, resumed=True)

    def _refuse_if_earlier_unfinished(self, period: str) -> None:
        for other in self._runs.recent(limit=500):
            if (
                other.run_kind is RunKind.MONTHLY
                and other.mode is RunMode.FINAL
                and other.period < period
                and not other.status.closed
            ):
                raise EarlierRunOpenError(
                    f"run {other.run_id} is {other.status.value}; start it again to finish it first"
                )

    def _previous_closed(self, run: RunRef) -> Run | None:
        """The latest closed final monthly run before this month: its carried balances open this run."""
        earlier = [
            r
            for r in self._runs.recent(limit=500)
            if r.run_kind is RunKind.MONTHLY
            and r.mode is RunMode.FINAL
            and r.status.closed
            and r.period < run.period
        ]
        return max(earlier, key=lambda r: r.period, default=None)

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
        """Settle each member against its ledger history: reversals of lost awards, then new awards.

        History includes this run's own entries, so a retried or resumed shard appends only what is
        missing and reports everything this run recorded for its members.
        """
        ours: list[LedgerEntry] = []
        skipped = 0
        preview = run.mode is RunMode.PREVIEW
        as_of = _month_end(run.period)
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

    def _balances_key(self, run_id: str) -> str:
        return f"{Prefix.RUNS}{run_id}/results/{BALANCES_SHARD}.json"

    def _carry(self, run: RunRef, outputs: list[ShardOutput]) -> ShardOutput:
        """Bring in the previous run's carried balances and carry out every clinic still negative."""
        totals: dict[str, int] = defaultdict(int)
        for out in outputs:
            for e in out.entries:
                totals[e.clinic_id] += e.amount_cents
        previous = self._previous_closed(run)
        carried_in = self._ledger.balances(previous.run_id) if previous else []
        balances = carry_balances(
            totals,
            carried_in,
            program=CARE_GAP_PROGRAM,
            run_id=run.run_id,
            month=run.period,
            as_of=_month_end(run.period),
        )
        if run.mode is RunMode.FINAL:
            for entry in balances:
                stored, _ = self._ledger.record(entry)
                if stored.amount_cents != entry.amount_cents or stored.run_id != run.run_id:
                    raise ReconciliationError("a carried balance of this run changed since it was recorded")
        return ShardOutput(run_id=run.run_id, shard_id=BALANCES_SHARD, entries=tuple(balances))

    def aggregate(self, item: AggregateInput) -> RunTotals:
        """Sum the shard results per clinic, settle carried balances (monthly) and write the run summary."""
        run = item.run
        outputs = self._outputs(run.run_id, item.plan.bucket, item.plan.manifest_key)
        if run.run_kind is RunKind.MONTHLY:
            balances = self._carry(run, outputs)
            self._store.put_json(
                self._curated, self._balances_key(run.run_id), balances.model_dump(mode="json")
            )
            outputs.append(balances)
        by_clinic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for out in outputs:
            for e in out.entries:
                by_clinic[e.clinic_id][0] += 1
                by_clinic[e.clinic_id][1] += e.amount_cents
        counts = _merge_counts(outputs)
        entry_count = sum(v[0] for v in by_clinic.values())
        total = sum(v[1] for v in by_clinic.values())
        kinds: dict[str, int] = defaultdict(int)
        for out in outputs:
            for e in out.entries:
                kinds[e.kind.value] += e.amount_cents
        summary = {
            "run_id": run.run_id,
            "run_kind": run.run_kind.value,
            "period": run.period,
            "mode": run.mode.value,
            "entry_count": entry_count,
            "total_cents": total,
            "skipped_paid_earlier": sum(o.skipped_paid_earlier for o in outputs),
            "total_cents_by_kind": dict(sorted(kinds.items())),
            "clinics": {c: {"entry_count": v[0], "total_cents": v[1]} for c, v in sorted(by_clinic.items())},
            "measure_counts": [m.model_dump(mode="json") for m in counts],
        }
        self._store.put_json(self._reports, f"{Prefix.RUNS}{run.run_id}/summary.json", summary)
        clinic_count = (
            len(by_clinic) if run.run_kind is RunKind.MONTHLY else len({m.clinic_id for m in counts})
        )
        logger.info("run aggregated", run_id=run.run_id, entry_count=entry_count, clinic_count=clinic_count)
        return RunTotals(entry_count=entry_count, total_cents=total, clinic_count=clinic_count)

    def _run_outputs(self, run: RunRef) -> list[ShardOutput]:
        """Every shard's result plus, for monthly runs, the carried balances AggregateRun settled."""
        outputs = self._outputs(run.run_id, self._curated, f"{Prefix.RUNS}{run.run_id}/shards.json")
        if run.run_kind is RunKind.MONTHLY:
            try:
                body = self._store.get_json(self._curated, self._balances_key(run.run_id))
            except NotFoundError:
                raise ShardResultMissingError(f"run {run.run_id} has no balances result") from None
            outputs.append(ShardOutput.model_validate(body))
        return outputs

    def _categories(self, entries: Iterable[LedgerEntry]) -> dict[str, str]:
        """Action code -> menu category, from the program version of each entry's measurement year."""
        found: dict[str, str] = {}
        for e in entries:
            if e.kind.is_balance or e.action in found:
                continue
            program = self._catalog.find(date(int(e.period[:4]), 12, 31))
            try:
                found[e.action] = program.action(e.action).category.value if program else "unknown"
            except KeyError:
                found[e.action] = "unknown"
        return found

    # RenderStatements
    def render(self, item: RenderInput) -> StatementsResult:
        """Write a statement per clinic (CSV + HTML), the payment file and, for annual runs, the rates."""
        run = item.run
        outputs = self._run_outputs(run)
        entries_by_clinic: dict[str, list[LedgerEntry]] = defaultdict(list)
        for out in outputs:
            for e in out.entries:
                entries_by_clinic[e.clinic_id].append(e)
        clinics = self._gaps.clinics()
        missing = sorted(set(entries_by_clinic) - set(clinics))
        if missing:
            raise ReconciliationError(f"{len(missing)} paid clinic(s) missing from the clinic registry")
        totals = {c: sum(e.amount_cents for e in es) for c, es in entries_by_clinic.items()}
        if any(cents < 0 for cents in totals.values()):
            raise ReconciliationError("a clinic nets negative after carried balances")
        categories = self._categories(e for es in entries_by_clinic.values() for e in es)
        for clinic_id, entries in sorted(entries_by_clinic.items()):
            base = f"{Prefix.STATEMENTS}{run.run_id}/{clinic_id}"
            page_csv = statement_csv(run.run_id, clinic_id, entries, categories=categories)
            self._store.put_bytes(self._reports, f"{base}.csv", page_csv, "text/csv")
            page = statement_html(run.run_id, clinics[clinic_id], entries, categories=categories)
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
            outputs = self._run_outputs(run)
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


def _fingerprint(gap: Gap) -> str:
    """A short content hash of a gap item: equal hashes mean the stored item is already current."""
    body = json.dumps(gap.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


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
