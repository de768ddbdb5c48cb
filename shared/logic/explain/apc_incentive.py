"""APC Element 3's part of an explanation: how the annual APC run counted the member in the practice's rate
of one incentive measure, and what the run paid the practice.

The count is the annual run's own (`ApcTally`, given by the service from `ApcCounter`): the member-months
attributed to the clinic, and at the clinic the member's results as `apc_member_year` found them. A quality
rate tells whether the member is in its denominator and numerator and, if not, the first reason: not
attributed, quality counted at the practice of a later month (never named), outside the population or
excluded, or nothing received by the data runout's end meets it (told apart from evidence received after
it by counting again with the runout never ending). A utilization or cost rate tells the member's
contribution. The run's entries are the practice's (`PerformanceIncentive`, one per payer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from shared.logic.annual_incentives import attributed_months, runout_end
from shared.logic.apc_rates import RATE_PLACES, RateUnit, rate_unit
from shared.logic.explain.apc import apc_practice_in
from shared.logic.explain.wording import paid_entry, run_status
from shared.logic.measures.apc import WHOLE, ApcMemberYear, Contribution, apc_rated_measures
from shared.logic.measures.outcome import Populations
from shared.logic.money import format_cents
from shared.models import explain as why
from shared.models.explain import Explanation, ProgramExplanation, Reason
from shared.models.ledger import LedgerEntry, PerformanceIncentive, PerformanceLine
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode, final_run_id
from shared.programs.apc import PROGRAM, ApcProgram, MeasureKind

NEVER = 1200
"""Months of data runout that never end within a plan's lifetime: the probe of evidence received late."""


@dataclass(frozen=True)
class ApcTally:
    """The annual APC run's count of one member at one practice: the member-months attributed there, and
    the member's results there as the run's counter found them (None when it counted none)."""

    member_months: int = 0
    found: ApcMemberYear | None = None
    contributions: Mapping[str, Contribution] = field(default_factory=dict)


ApcCount = Callable[[ApcProgram, MemberFacts], ApcTally]
"""The annual run's APC count of one member at the clinic under any APC version
(`shared/services/explain.py`, `apc_tally`)."""


def _with_runout(program: ApcProgram, months: int) -> ApcProgram:
    incentive = program.incentive.model_copy(update={"data_runout_months": months})
    return program.model_copy(update={"incentive": incentive})


def _outside(populations: Populations) -> str:
    if not populations.denominator:
        return "outside its population, as the measure defines it"
    if populations.denominator_exclusion:
        return "in its population, and excluded, as the measure defines it"
    return "in its population, and excepted, as the measure defines it"


def _proportion(
    facts: MemberFacts,
    program: ApcProgram,
    *,
    clinic_id: str,
    code: str,
    parts: Sequence[str],
    year: int,
    count: ApcCount,
) -> list[Reason]:
    base = count(program, facts)
    if base.found is None:
        return [why.APC_E3_NOT_ATTRIBUTED.reason(year=year)]
    if not base.found.parts:
        # The clinic's own months only: which practice had the later month is never said.
        mine = attributed_months(facts.spans, year).get(clinic_id, ())
        return [why.APC_E3_QUALITY_ELSEWHERE.reason(measure=code, year=year, last=mine[-1] if mine else "-")]
    known_by = runout_end(year, program.incentive.data_runout_months)
    relaxed: ApcTally | None = None
    reasons = []
    for name in parts:
        rate = code if name == WHOLE else f"{code} {name}"
        populations = base.found.parts[code][name]
        if not populations.rated:
            reasons.append(
                why.APC_E3_NOT_IN_DENOMINATOR.reason(rate=rate, year=year, why=_outside(populations))
            )
        elif not populations.met:
            relaxed = relaxed or count(_with_runout(program, NEVER), facts)
            late = relaxed.found is not None and relaxed.found.parts[code][name].met
            kind = why.APC_E3_AFTER_RUNOUT if late else why.APC_E3_NOT_IN_NUMERATOR
            reasons.append(kind.reason(rate=rate, known_by=known_by))
        else:
            reasons.append(why.APC_E3_COUNTED.reason(rate=rate, year=year))
    return reasons


def _contribution(
    facts: MemberFacts, program: ApcProgram, code: str, unit: RateUnit, year: int, count: ApcCount
) -> Reason:
    base = count(program, facts)
    if not base.member_months:
        return why.APC_E3_NOT_ATTRIBUTED.reason(year=year)
    found = base.contributions.get(code, Contribution())
    if not found.member_months:
        return why.APC_E3_NOT_IN_DENOMINATOR.reason(
            rate=code,
            year=year,
            why="outside its population in the months attributed here (its ages, or hospice)",
        )
    counted = (
        f"standardized cost {format_cents(found.cost_cents)}"
        if unit is RateUnit.DOLLARS_PMPM
        else f"{found.events} event(s)"
    )
    return why.APC_E3_CONTRIBUTION.reason(
        rate=code,
        year=year,
        member_months=found.member_months,
        factor_months=f"{found.factor_months:.{RATE_PLACES}f}",
        counted=counted,
    )


def _line(lines: Sequence[PerformanceLine]) -> str:
    def one(line: PerformanceLine) -> str:
        unit = "%" if line.unit == RateUnit.PERCENT.value else f" {line.unit.replace('_', ' ')}"
        rate = f"{line.rate}{unit}" if line.rate is not None else "no result"
        counts = f" ({line.numerator} of {line.denominator})" if line.unit == RateUnit.PERCENT.value else ""
        baseline = f", baseline {line.baseline}" if line.baseline is not None else ", no baseline"
        part = f"{line.component} " if line.component else ""
        return f"{part}{rate}{counts}{baseline}, {line.category}, {format_cents(line.amount_cents)}"

    return "; ".join(one(line) for line in lines) or "not in the entry"


def _paid(code: str, entries: Sequence[LedgerEntry], runs: Mapping[str, Run]) -> list[Reason]:
    found = []
    for entry in entries:
        basis = entry.basis
        if entry.program != PROGRAM or not isinstance(basis, PerformanceIncentive):
            continue
        found.append(
            why.APC_E3_PAID.reason(
                payer=entry.payer,
                amount=format_cents(entry.amount_cents),
                run_id=entry.run_id,
                run_status=run_status(runs.get(entry.run_id)),
                member_months=basis.member_months,
                measure=code,
                line=_line([m for m in basis.measures if m.measure == code]),
            )
        )
    return found


def explain_apc_incentive(
    facts: MemberFacts,
    *,
    clinic: Clinic,
    measure: str,
    year: int,
    program: ApcProgram | None,
    count: ApcCount,
    runs: Mapping[str, Run],
    entries: Sequence[LedgerEntry],
) -> ProgramExplanation | None:
    """Element 3's part for an incentive measure of `program` (the APC version of `year`; None when there is
    none, the measure is not an incentive measure, or the clinic was on no APC track in the year): the
    annual run's status, how its count took the member at the clinic, and what it paid the practice for the
    measure (`entries`: the clinic's entries of the year's final annual run, read only when it closed)."""
    if program is None or not apc_practice_in(clinic, year):
        return None
    incentive = program.incentive.measure(measure)
    rated = next((r for r in apc_rated_measures(program) if r.rate.rate == measure), None)
    if incentive is None or rated is None:
        return None
    reasons: list[Reason] = []
    run_id = final_run_id(RunKind.ANNUAL, str(year))
    run = runs.get(run_id)
    closed = run is not None and run.status.closed
    if not closed:
        reasons.append(
            why.APC_E3_RUN_NOT_CLOSED.reason(
                year=year,
                run_id=run_id,
                status=run_status(run),
                known_by=runout_end(year, program.incentive.data_runout_months),
            )
        )
    if clinic.practice_type not in incentive.shares:
        applies = ", ".join(t.value for t in incentive.shares)
        reasons.append(
            why.APC_E3_NOT_APPLICABLE.reason(
                measure=measure, practice_type=clinic.practice_type.value, applies=applies
            )
        )
    elif incentive.kind is MeasureKind.QUALITY:
        parts = rated.rate.parts or (WHOLE,)
        reasons += _proportion(
            facts, program, clinic_id=clinic.clinic_id, code=measure, parts=parts, year=year, count=count
        )
    else:
        reasons.append(_contribution(facts, program, measure, rate_unit(rated), year, count))
    mine = [e for e in entries if e.program == PROGRAM and isinstance(e.basis, PerformanceIncentive)]
    paid = _paid(measure, mine, runs)
    reasons += paid
    if closed and not paid:
        reasons.append(why.APC_E3_NO_PAYMENT.reason(run_id=run_id, year=year))
    return ProgramExplanation(
        program=PROGRAM,
        version=program.version,
        measure=measure,
        year=year,
        run_id=run_id,
        run_status=run_status(run),
        reasons=tuple(reasons),
        entries=tuple(paid_entry(e, runs) for e in mine),
    )


def incentive_explanation(
    facts: MemberFacts,
    *,
    clinic_id: str,
    program: ApcProgram,
    part: ProgramExplanation,
    runs: Sequence[Run],
    as_of: date,
    annual: Sequence[ProgramExplanation] = (),
) -> Explanation:
    """The explanation of an APC incentive measure that is no Care Gap action (AMR, AHU, TCOC, ...): no
    steps and no evidence of a gap, Element 3's part and `annual`'s."""
    incentive = program.incentive.measure(part.measure)
    closed = [
        r for r in runs if r.run_kind is RunKind.MONTHLY and r.mode is RunMode.FINAL and r.status.closed
    ]
    return Explanation(
        clinic_id=clinic_id,
        member_id=facts.profile.member_id,
        action=part.measure,
        action_name=incentive.name if incentive is not None else part.measure,
        year=part.year,
        as_of=as_of,
        program_version=None,
        last_closed_run=max(closed, key=lambda r: r.period).run_id if closed else None,
        steps=(),
        annual=(part, *annual),
    )
