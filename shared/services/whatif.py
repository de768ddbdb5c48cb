"""`p4p whatif`: a past year (or the year so far) re-run under another program file, against what its final
runs paid. Nothing is written: the annual run's own counting and settlement run on a read-only ledger and
a scratch copy of the objects (`shared/services/read_only.py`), the SVU awards are the monthly run's pure
`member_awards` and the phase payments its `month_phase_payments`; the rules of what is compared are in
`shared/logic/whatif.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from shared import clock
from shared.dal.errors import NotFoundError
from shared.dal.files import FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.logic.annual_incentives import guarantee
from shared.logic.awards import member_awards
from shared.logic.money import parse_dollars
from shared.logic.phases import month_phase_payments
from shared.logic.whatif import (
    APC_ELEMENT3,
    BENCHMARK,
    GUARANTEE,
    PHASE_PAYMENTS,
    SCOPES,
    SVU_AWARDS,
    by_clinic,
    differences,
)
from shared.logic.whatif import substituted as substituted_versions
from shared.models.design import WhatIfResult
from shared.models.incentives import GuaranteeResult
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry, PhasePayment
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode, RunRef, RunStatus, ShardOutput, final_run_id
from shared.observability import logger
from shared.programs.catalog import Programs, ProgramSet
from shared.programs.phases import ParticipationPhase, ReportingPhase
from shared.programs.versions import VersionedProgram
from shared.services.kinds import RunContext
from shared.services.kinds.annual import AnnualIncentive, BenchmarkCounter, guarantees_key, rated_clinics
from shared.services.kinds.annual_apc import ApcCounter, apc_practices
from shared.services.kinds.base import engagement_activities
from shared.services.read_only import ReadOnlyLedger, ScratchObjectStore
from shared.services.run_records import RECENT_RUNS


class WhatIfYearError(DomainError):
    """The year asked for cannot be re-run (it has not started, or no Care Gap version covers it)."""


def every_member(gaps: GapStateRepository) -> Iterator[MemberFacts]:
    """Every member of every clinic, once, in id order, as PlanShards finds them."""
    ids = sorted({m for clinic_id in gaps.clinics() for m in gaps.member_ids(clinic_id)})
    for member_id in ids:
        facts = gaps.member(member_id)
        if facts is not None:
            yield facts


def last_month(year: int, today: date) -> str:
    """The last month of `year` that has ended by `today` (`YYYY-00` when none has)."""
    if year < today.year:
        return f"{year}-12"
    return f"{year}-{today.month - 1:02d}"


class WhatIfService:
    """The what-if re-run over a stack's repositories; they are only read."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        gaps: GapStateRepository,
        ledger: LedgerRepository,
        runs: RunRegistry,
        files: FileRegistry,
        programs: ProgramSet,
        curated_bucket: str,
        now: clock.Clock = clock.now,
        payer: str = DEFAULT_PAYER,
    ) -> None:
        self._store = store
        self._gaps = gaps
        self._ledger = ReadOnlyLedger(ledger)
        self._runs = runs
        self._files = files
        self._programs = programs
        self._curated = curated_bucket
        self._now = now
        self._payer = payer

    def whatif(
        self, alternative: VersionedProgram, year: int, members: Iterable[MemberFacts] | None = None
    ) -> WhatIfResult:
        """The year under `alternative` (already moved to `year`) per clinic, against what was paid.
        `members` defaults to every member of the stack."""
        today = self._now().date()
        if year > today.year:
            raise WhatIfYearError(f"{year} has not started; a what-if re-runs a past year or the year so far")
        base = self._programs
        every = (*base.care_gap.versions, *base.benchmark.versions, *base.apc.versions)
        versions, replaced = substituted_versions(every, alternative, year)
        programs = Programs.of_versions(versions)
        if programs.care_gap.for_year(year) is None:
            raise WhatIfYearError(f"no Care Gap version covers {year}: the stack has no run of it to compare")
        scope = SCOPES[alternative.program]
        through = last_month(year, today)
        clinics = self._gaps.clinics()
        facts = list(every_member(self._gaps) if members is None else members)
        notes: list[str] = []
        annual = self._runs.get(final_run_id(RunKind.ANNUAL, str(year)))
        annual = annual if annual is not None and annual.status.closed else None
        if SVU_AWARDS in scope:
            awards = self._svu_awards(programs, clinics, facts, year, through)
            whatif = _add(awards, self._phase_payments(programs, clinics, year, through))
            if annual is None:
                notes.append(f"no closed annual run of {year}: the earnings guarantee is not re-run")
                scope = (SVU_AWARDS, PHASE_PAYMENTS)
            else:
                # The guarantee sets Care Gap's earnings (awards, not phase payments) against Benchmark.
                whatif = _add(whatif, self._guarantee(programs, clinics, annual, awards, year))
        else:
            whatif = by_clinic(self._annual(programs, clinics, facts, year, scope), scope, year)
            if annual is None:
                notes.append(f"no closed annual run of {year}: nothing paid yet (the year as known now)")
        paid_runs = self._paid_runs(year, scope)
        paid: dict[str, int] = defaultdict(int)
        for run in paid_runs:
            for clinic_id, cents in by_clinic(self._ledger.by_run(run.run_id), scope, year).items():
                paid[clinic_id] += cents
        pool = getattr(alternative, "funding_pool", None)
        logger.info("what-if re-run", year=year, program=alternative.program, members=len(facts))
        return WhatIfResult(
            program=alternative.program,
            version=alternative.version,
            replaces=replaced,
            year=year,
            through=through,
            scope=scope,
            members=len(facts),
            paid_runs=tuple(r.run_id for r in paid_runs),
            clinics=differences(paid, whatif),
            pool_cents=parse_dollars(str(pool)) if pool is not None else None,
            notes=tuple(notes),
        )

    def _paid_runs(self, year: int, scope: tuple[str, ...]) -> list[Run]:
        """The closed final runs whose entries the scope compares: the monthly runs that can pay awards
        earned in `year` (its months and later), and the year's annual run."""
        found = []
        for run in self._runs.recent(limit=RECENT_RUNS):
            if run.mode is not RunMode.FINAL or not run.status.closed:
                continue
            monthly = run.run_kind is RunKind.MONTHLY and SVU_AWARDS in scope and run.period >= f"{year}-01"
            yearly = run.run_kind is RunKind.ANNUAL and run.period == str(year)
            if monthly or (yearly and ({GUARANTEE, BENCHMARK, APC_ELEMENT3} & set(scope))):
                found.append(run)
        return sorted(found, key=lambda r: (r.run_kind.value, r.period))

    def _svu_awards(
        self,
        programs: Programs,
        clinics: Mapping[str, Clinic],
        facts: Iterable[MemberFacts],
        year: int,
        through: str,
    ) -> dict[str, int]:
        """Net SVU awards earned in `year` up to `through` per clinic, as the monthly runs earn them."""
        found: dict[str, int] = defaultdict(int)
        if through < f"{year}-01":
            return {}
        for member in facts:
            awards = member_awards(
                member,
                clinics=clinics,
                catalog=programs.care_gap,
                through_month=through,
                run_id=f"whatif-{year}",
                payer=self._payer,
            )
            for entry in awards:
                if entry.earned_month[:4] == str(year):
                    found[entry.clinic_id] += entry.amount_cents
        return dict(found)

    def _phase_payments(
        self, programs: Programs, clinics: Mapping[str, Clinic], year: int, through: str
    ) -> dict[str, int]:
        """The phase payments of `year`'s months up to `through` per clinic, as the monthly runs pay them
        under `programs` (`month_phase_payments`): each month's participation and reporting, and a clinic's
        onboarding once, in the first month it is complete, unless a run before the year already paid it."""
        phases = [
            p
            for v in programs.care_gap.versions
            for p in v.phases
            if isinstance(p, ParticipationPhase | ReportingPhase)
        ]
        if through < f"{year}-01" or not phases:
            return {}
        kinds = {kind for p in phases if isinstance(p, ReportingPhase) for kind in p.submission.file_kinds}
        files = self._files.submissions(kinds) if kinds else []
        onboarding = any(isinstance(p, ParticipationPhase) and p.onboarding_complete > 0 for p in phases)
        ctx = self._context(programs)
        seen: set[tuple[str, tuple[str, ...]]] = set()
        found: dict[str, int] = defaultdict(int)
        for month in (f"{year}-{m:02d}" for m in range(1, int(through[5:]) + 1)):
            for entry in month_phase_payments(
                clinics=clinics,
                catalog=programs.care_gap,
                month=month,
                files=files,
                activities=engagement_activities(ctx, month) if onboarding else (),
                run_id=f"whatif-{year}",
                payer=self._payer,
            ):
                if (entry.clinic_id, entry.slot) in seen or self._paid_before(entry, year):
                    continue
                seen.add((entry.clinic_id, entry.slot))
                found[entry.clinic_id] += entry.amount_cents
        return dict(found)

    def _paid_before(self, entry: LedgerEntry, year: int) -> bool:
        """True for a one-time payment (onboarding) that a run of an earlier year recorded (its id is its
        slot's)."""
        if not isinstance(entry.basis, PhasePayment) or entry.basis.reason != "onboarding_complete":
            return False
        stored = self._ledger.get(entry.entry_id)
        return (
            stored is not None
            and isinstance(stored.basis, PhasePayment)
            and stored.basis.month < f"{year}-01"
        )

    def _guarantee(
        self,
        programs: Programs,
        clinics: Mapping[str, Clinic],
        annual: Run,
        earnings: Mapping[str, int],
        year: int,
    ) -> dict[str, int]:
        """The guarantee's parts per clinic with the what-if's Care Gap earnings, set against the full-year
        Benchmark bonus the year's annual run found (its `guarantees.json`)."""
        care_gap = programs.care_gap.for_year(year)
        if care_gap is None or not care_gap.earnings_guarantee:
            return {}
        try:
            body = self._store.get_json(self._curated, guarantees_key(annual.run_id))
        except NotFoundError:
            return {}
        found = {}
        for clinic_id, figures in body.items():
            recorded = GuaranteeResult.model_validate(figures)
            clinic = clinics.get(clinic_id)
            if clinic is None:
                continue
            again = guarantee(clinic, year, recorded.benchmark_full_year_cents, earnings.get(clinic_id, 0))
            if again is not None:
                found[clinic_id] = again.prorated_benchmark_cents + again.make_whole_cents
        return found

    def _annual(
        self,
        programs: Programs,
        clinics: Mapping[str, Clinic],
        facts: Iterable[MemberFacts],
        year: int,
        scope: tuple[str, ...],
    ) -> list[LedgerEntry]:
        """The annual run's entries under `programs`, from its own counters and settlement, in preview mode
        on read-only storage: the Benchmark counts when Benchmark is in scope, APC's when Element 3 is."""
        care_gap = programs.care_gap.for_year(year)
        benchmark = programs.benchmark.for_year(year) if BENCHMARK in scope else None
        apc = programs.apc.for_year(year) if APC_ELEMENT3 in scope else None
        assert care_gap is not None
        rated = {c.clinic_id: c for c in rated_clinics(clinics.values(), year, care_gap)}
        counter = BenchmarkCounter(benchmark, care_gap) if benchmark is not None else None
        practices = apc_practices(clinics.values(), year) if apc is not None else {}
        apc_counter = ApcCounter(apc, care_gap, year) if apc is not None and practices else None
        for member in facts:
            if counter is not None:
                counter.add(member, rated)
            if apc_counter is not None:
                apc_counter.add(member, practices)
        run_id = f"whatif-annual-{year}"
        output = ShardOutput(
            run_id=run_id,
            shard_id="00000",
            measure_counts=tuple(counter.measure_counts()) if counter else (),
            panel_counts=tuple(counter.panel_counts()) if counter else (),
            apc_counts=tuple(apc_counter.counts()) if apc_counter else (),
            apc_contributions=tuple(apc_counter.contributions()) if apc_counter else (),
            apc_panels=tuple(apc_counter.panels()) if apc_counter else (),
        )
        run = RunRef(
            run_id=run_id,
            run_kind=RunKind.ANNUAL,
            period=str(year),
            mode=RunMode.PREVIEW,
            status=RunStatus.OPEN,
        )
        return AnnualIncentive().settle(self._context(programs), run, [output])

    def _context(self, programs: Programs) -> RunContext:
        return RunContext(
            objects=ScratchObjectStore(self._store),
            curated=self._curated,
            gaps=self._gaps,
            ledger=self._ledger,
            runs=self._runs,
            files=self._files,
            catalog=programs.care_gap,
            programs=programs,
            now=self._now,
            payer=self._payer,
        )


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for part in (a, b):
        for clinic_id, cents in part.items():
            found[clinic_id] += cents
    return dict(found)
