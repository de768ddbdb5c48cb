"""`p4p explain`'s read path (FAQ Q9): one member's facts, its ledger history and the final runs, read
through the repositories the runs use, explained by `shared/logic/explain`.

The annual part counts the member with the annual run's own counter (`shared/services/kinds/annual.py`),
so Benchmark P4P's "did the member count?" is the run's answer, not a second copy of it; APC Element 3's
counts the member with the annual APC run's counter (`ApcCounter`). APC's PMPM part reads the quarterly
PMPM run's entries, each month's payer as the run finds it (`member_month_spans`). A clinic sees
only members assigned to it during the year asked about; nothing about the member is logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from shared import clock
from shared.clock import Clock
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.logic.explain import (
    ApcCount,
    ApcTally,
    PlainExplanations,
    Tally,
    UnknownActionError,
    explain_apc,
    explain_apc_incentive,
    explain_benchmark,
    explain_gap,
    explain_gaps,
    incentive_explanation,
)
from shared.logic.measures.apc import ApcMemberYear
from shared.models.actions import ActionCode
from shared.models.explain import BenchmarkTally, Explanation, ProgramExplanation
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode, final_run_id
from shared.observability import logger
from shared.programs.apc import PROGRAM as APC_PROGRAM
from shared.programs.apc import ApcProgram
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.care_gap import CareGapProgram, ProgramCatalog
from shared.programs.catalog import ProgramSet
from shared.services.kinds.annual import BenchmarkCounter, rated_clinics
from shared.services.kinds.annual_apc import ApcCounter
from shared.services.kinds.quarterly import member_month_spans
from shared.services.registry import UnknownClinicError
from shared.services.run_records import RECENT_RUNS

__all__ = [
    "ExplainService",
    "NotEntitledError",
    "UnknownClinicError",
    "UnknownMemberError",
    "explained_runs",
    "gap_explanations",
]


class UnknownMemberError(DomainError):
    """The gap state holds no member with that id."""


class NotEntitledError(DomainError):
    """The member was not assigned to the clinic during the year asked about: the clinic may not see it."""


def annual_tally(care_gap: CareGapProgram, clinic: Clinic) -> Tally:
    """The annual run's count of one member at one clinic under any Benchmark version (a probe relaxes one
    rule of the version and counts again)."""

    def count(program: BenchmarkProgram, facts: MemberFacts) -> BenchmarkTally:
        counter = BenchmarkCounter(program, care_gap)
        counter.add(facts, {clinic.clinic_id: clinic})
        counts = {key: (pair[0], pair[1]) for key, pair in counter.counts.items()}
        return BenchmarkTally(panels=frozenset(counter.panels), counts=counts)

    return count


def apc_tally(care_gap: CareGapProgram, clinic: Clinic, year: int, payer: str = DEFAULT_PAYER) -> ApcCount:
    """The annual APC run's count of one member at one practice under any APC version (a probe relaxes the
    version's data runout and counts again): the counter the run's shards use, given the practice alone."""

    def count(program: ApcProgram, facts: MemberFacts) -> ApcTally:
        counter = ApcCounter(program, care_gap, year, payer=payer)
        found: dict[str, ApcMemberYear] = {}
        counter.add(facts, {clinic.clinic_id: clinic}, found)
        sums = counter.sums.get(clinic.clinic_id)
        return ApcTally(
            member_months=counter.months.get(clinic.clinic_id, 0),
            found=found.get(clinic.clinic_id),
            contributions=dict(sums.contributions) if sums is not None else {},
        )

    return count


def explained_runs(runs: RunRegistry) -> list[Run]:
    """The final runs (any kind) an explanation names, with their status as the registry has it now."""
    return [r for r in runs.recent(limit=RECENT_RUNS) if r.mode is RunMode.FINAL]


def _payer(history: Sequence[LedgerEntry]) -> str:
    # One deployment pays as one plan (PLAN_ID): its entries name it, and so do the awards compared.
    return next((e.payer for e in history), DEFAULT_PAYER)


def gap_explanations(
    facts: MemberFacts,
    *,
    clinic_id: str,
    actions: Sequence[str],
    year: int,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    history: Sequence[LedgerEntry],
    runs: Sequence[Run],
    as_of: date,
    plain: PlainExplanations | None = None,
) -> list[Explanation]:
    """`p4p explain`'s Care Gap P4P part of several of the member's actions, as known on `as_of`: what a
    clinic page's registry rows link to (computed in EarnShard, which holds the member). `history` is the
    member's ledger history, `runs` the final runs (`explained_runs`)."""
    return explain_gaps(
        facts,
        clinic_id=clinic_id,
        actions=[ActionCode(a) for a in actions],
        year=year,
        clinics=clinics,
        catalog=catalog,
        history=history,
        runs=runs,
        as_of=as_of,
        payer=_payer(history),
        plain=plain,
    )


def _assigned_in(facts: MemberFacts, clinic_id: str, year: int) -> bool:
    first, last = date(year, 1, 1), date(year, 12, 31)
    return any(
        s.clinic_id == clinic_id and s.start <= last and (s.end is None or s.end >= first)
        for s in facts.spans
    )


class ExplainService:
    """Why a clinic was or was not paid for a member's action in a year, as known today."""

    def __init__(
        self,
        *,
        gaps: GapStateRepository,
        ledger: LedgerRepository,
        runs: RunRegistry,
        programs: ProgramSet,
        now: Clock = clock.now,
    ) -> None:
        self._gaps = gaps
        self._ledger = ledger
        self._runs = runs
        self._programs = programs
        self._now = now

    def explain(self, *, clinic_id: str, member_id: str, action: str, year: int) -> Explanation:
        """The explanation; UnknownClinicError, UnknownMemberError, NotEntitledError or UnknownActionError
        when it cannot be given."""
        clinics = self._gaps.clinics()
        clinic = clinics.get(clinic_id)
        if clinic is None:
            raise UnknownClinicError(f"clinic {clinic_id} is not known")
        facts = self._gaps.member(member_id)
        if facts is None:
            raise UnknownMemberError(f"member {member_id} is not known")
        if not _assigned_in(facts, clinic_id, year):
            raise NotEntitledError(f"member {member_id} was not assigned to clinic {clinic_id} in {year}")
        as_of = self._now().date()
        history = self._ledger.member_entries(member_id)
        runs = explained_runs(self._runs)
        known = facts.model_copy(
            update={"evidence": tuple(e for e in facts.evidence if e.known_date <= as_of)}
        )
        annual = self._annual(known, clinic, clinics, action, year, runs)
        incentive = self._apc_incentive(known, clinic, action, year, runs, _payer(history))
        apc = self._apc(facts, clinic, year, history, runs)
        try:
            explanation = explain_gap(
                facts,
                clinic_id=clinic_id,
                action=ActionCode(action),
                year=year,
                clinics=clinics,
                catalog=self._programs.care_gap,
                history=history,
                runs=runs,
                as_of=as_of,
                payer=_payer(history),
                annual=[*annual, *([incentive] if incentive else []), *([apc] if apc else [])],
            )
        except UnknownActionError:
            # An APC incentive measure that is no Care Gap action (AMR, AHU, TCOC, ...) is Element 3's alone.
            apc_program = self._programs.apc.for_year(year)
            if incentive is None or apc_program is None:
                raise
            explanation = incentive_explanation(
                facts,
                clinic_id=clinic_id,
                program=apc_program,
                part=incentive,
                runs=runs,
                as_of=as_of,
                annual=[apc] if apc else [],
            )
        logger.info(
            "gap explained",
            clinic_id=clinic_id,
            year=year,
            step_count=len(explanation.steps),
            stopped_count=sum(1 for s in explanation.steps if s.stopped_by is not None),
        )
        return explanation

    def _annual(
        self,
        facts: MemberFacts,
        clinic: Clinic,
        clinics: Mapping[str, Clinic],
        measure: str,
        year: int,
        runs: Sequence[Run],
    ) -> list[ProgramExplanation]:
        benchmark = self._programs.benchmark.for_year(year)
        care_gap = self._programs.care_gap.for_year(year)
        if benchmark is None or care_gap is None or not any(m.code == measure for m in benchmark.measures):
            return []
        rated = {c.clinic_id for c in rated_clinics(clinics.values(), year, care_gap)}
        by_id = {r.run_id: r for r in runs}
        # APC's Element 3 entries of the same run are its own part's.
        entries = [e for e in self._annual_entries(clinic, year, by_id) if e.program != APC_PROGRAM]
        part = explain_benchmark(
            facts,
            clinic=clinic,
            measure=measure,
            program=benchmark,
            rated=clinic.clinic_id in rated,
            tally=annual_tally(care_gap, clinic),
            runs=by_id,
            entries=sorted(entries, key=lambda e: e.entry_id),
        )
        return [part] if part is not None else []

    def _annual_entries(self, clinic: Clinic, year: int, runs: Mapping[str, Run]) -> list[LedgerEntry]:
        """The clinic's own entries (no member's) of the year's final annual run, once it has closed."""
        run_id = final_run_id(RunKind.ANNUAL, str(year))
        run = runs.get(run_id)
        if run is None or not run.status.closed:
            return []
        return [e for e in self._ledger.by_run(run_id) if e.clinic_id == clinic.clinic_id and not e.member_id]

    def _apc_incentive(
        self,
        facts: MemberFacts,
        clinic: Clinic,
        measure: str,
        year: int,
        runs: Sequence[Run],
        payer: str,
    ) -> ProgramExplanation | None:
        program = self._programs.apc.for_year(year)
        care_gap = self._programs.care_gap.for_year(year)
        if program is None or care_gap is None or program.incentive.measure(measure) is None:
            return None
        by_id = {r.run_id: r for r in runs}
        return explain_apc_incentive(
            facts,
            clinic=clinic,
            measure=measure,
            year=year,
            program=program,
            count=apc_tally(care_gap, clinic, year, payer),
            runs=by_id,
            entries=sorted(self._annual_entries(clinic, year, by_id), key=lambda e: e.entry_id),
        )

    def _apc(
        self,
        facts: MemberFacts,
        clinic: Clinic,
        year: int,
        history: Sequence[LedgerEntry],
        runs: Sequence[Run],
    ) -> ProgramExplanation | None:
        # PMPM is paid per member-month, not per action: the part is the same whatever action is asked.
        payer = _payer(history)
        months = [f"{year}-{m:02d}" for m in range(1, 13)]
        return explain_apc(
            clinic=clinic,
            member_id=facts.profile.member_id,
            year=year,
            entries=history,
            runs={r.run_id: r for r in runs},
            catalog=self._programs.apc,
            payer=payer,
            month_payers={m: s.payer(payer) for m, s in member_month_spans(facts.spans, months).items()},
        )
