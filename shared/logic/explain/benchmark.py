"""Benchmark P4P's part of an explanation (and the Care Gap earnings guarantee, which rates a clinic as if
it had stayed): whether the member counted for the clinic's rate of the measure, and why not.

The count is the annual run's own (`Tally`); each "why not" re-runs it with one program rule relaxed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from shared.logic.annual_incentives import months_assigned, rate_percent
from shared.logic.explain.wording import paid_entry, run_status
from shared.logic.money import format_cents
from shared.models import explain as why
from shared.models.explain import BenchmarkTally, LineExplanation, ProgramExplanation, Reason
from shared.models.ledger import GuaranteeTopUp, LedgerEntry, MeasureIncentive
from shared.models.members import BENCHMARK_PROGRAM, Clinic, MemberFacts
from shared.models.runs import Run, RunKind, final_run_id
from shared.programs.benchmark import BenchmarkMetric, BenchmarkProgram

Tally = Callable[[BenchmarkProgram, MemberFacts], BenchmarkTally]
"""The annual run's count of one member under a Benchmark version (`shared/services/explain.py`)."""


def _with_metric(program: BenchmarkProgram, code: str, **changes: object) -> BenchmarkProgram:
    measures = tuple(m.model_copy(update=changes) if m.code == code else m for m in program.measures)
    return program.model_copy(update={"measures": measures})


def _with_timeline(program: BenchmarkProgram, **changes: object) -> BenchmarkProgram:
    return program.model_copy(update={"timeline": program.timeline.model_copy(update=changes)})


def _numerator(
    facts: MemberFacts,
    program: BenchmarkProgram,
    metric: BenchmarkMetric,
    key: tuple[str, str, str],
    tally: Tally,
) -> Reason:
    """Why a member in the denominator is not in its numerator: the first rule that, relaxed, puts it in."""

    def met(variant: BenchmarkProgram) -> bool:
        return tally(variant, facts).counts.get(key, (0, 0))[1] > 0

    timeline, code = program.timeline, metric.code
    deadline = timeline.submission_deadline
    if not metric.attestation_allowed and met(_with_metric(program, code, attestation_allowed=True)):
        return why.ANNUAL_ATTESTATION_NOT_ALLOWED.reason(measure=code, deadline=deadline)
    if metric.attestation_allowed and met(
        _with_timeline(program, attestation_from=date.min, attestation_to=date.max)
    ):
        return why.ANNUAL_ATTESTATION_OUTSIDE_WINDOW.reason(
            measure=code, first=timeline.attestation_from, last=timeline.attestation_to
        )
    if met(_with_timeline(program, submission_deadline=date.max)):
        return why.ANNUAL_AFTER_DEADLINE.reason(measure=code, deadline=deadline)
    return why.ANNUAL_NOT_IN_NUMERATOR.reason(measure=code, deadline=deadline)


def _line(
    facts: MemberFacts,
    *,
    clinic: Clinic,
    line: str,
    months: int,
    program: BenchmarkProgram,
    metric: BenchmarkMetric,
    tally: Tally,
    base: BenchmarkTally,
    paid: Sequence[tuple[LedgerEntry, Run | None]],
    closed_run: str | None,
) -> LineExplanation:
    year, code = program.measurement_year, metric.code
    reasons: list[Reason] = []
    if (clinic.clinic_id, line) not in base.panels:
        relaxed = tally(program.model_copy(update={"assignment_months": 1}), facts)
        if (clinic.clinic_id, line) in relaxed.panels:
            reasons.append(
                why.ANNUAL_ASSIGNMENT_MONTHS.reason(
                    line=line, months=months, year=year, minimum=program.assignment_months
                )
            )
        else:
            reasons.append(why.ANNUAL_LINE_NOT_OFFERED.reason(line=line))
        return LineExplanation(
            line_of_business=line,
            months_assigned=months,
            denominator=False,
            numerator=False,
            reasons=tuple(reasons),
        )
    key = (clinic.clinic_id, line, code)
    denominator, numerator = base.counts.get(key, (0, 0))
    if metric not in program.metric_set(clinic.practice_type, line):
        reasons.append(
            why.ANNUAL_NOT_IN_METRIC_SET.reason(
                measure=code, practice_type=clinic.practice_type.value, line=line
            )
        )
    elif not denominator:
        reasons.append(why.ANNUAL_NOT_IN_DENOMINATOR.reason(measure=code, year=year))
    elif not numerator:
        reasons.append(_numerator(facts, program, metric, key, tally))
    else:
        reasons.append(why.ANNUAL_COUNTED.reason(line=line, measure=code, year=year))
    for entry, run in paid:
        basis = entry.basis
        if isinstance(basis, MeasureIncentive) and basis.line_of_business == line:
            measure = next((m for m in basis.measures if m.measure == code), None)
            rate = rate_percent(measure.numerator, measure.denominator) if measure else None
            met = f"met by {measure.met_by}" if measure and measure.met_by else "not met"
            if measure is not None and not measure.counted:
                met = "not counted"
            reasons.append(
                why.ANNUAL_PAID.reason(
                    line=line,
                    amount=format_cents(entry.amount_cents),
                    run_id=entry.run_id,
                    run_status=run_status(run),
                    measure=code,
                    numerator=measure.numerator if measure else 0,
                    denominator=measure.denominator if measure else 0,
                    met=f"{rate}%, {met}" if rate is not None else met,
                )
            )
            break
    else:
        if closed_run is not None:
            reasons.append(why.ANNUAL_NO_PAYMENT.reason(run_id=closed_run, line=line))
    return LineExplanation(
        line_of_business=line,
        months_assigned=months,
        denominator=bool(denominator),
        numerator=bool(numerator),
        reasons=tuple(reasons),
    )


def explain_benchmark(
    facts: MemberFacts,
    *,
    clinic: Clinic,
    measure: str,
    program: BenchmarkProgram,
    rated: bool,
    tally: Tally,
    runs: Mapping[str, Run],
    entries: Sequence[LedgerEntry],
) -> ProgramExplanation | None:
    """Benchmark P4P's part for a measure (None when the version has no such measure): whether the clinic
    is rated for the year (`rated`: the annual run rates it, for Benchmark or the guarantee), and per line
    of business the member was at the clinic, whether it counted and the first rule that kept it out;
    `entries` are the clinic's entries of the year's final annual run."""
    metric = next((m for m in program.measures if m.code == measure), None)
    if metric is None:
        return None
    year = program.measurement_year
    reasons: list[Reason] = []
    joined = clinic.care_gap_start(year)
    if not rated:
        why_not = (
            f"in Care Gap P4P from {joined.isoformat()}, with no earnings guarantee that year"
            if joined
            else "not enrolled in Benchmark P4P that year"
        )
        reasons.append(why.ANNUAL_CLINIC_NOT_RATED.reason(year=year, why=why_not))
    elif joined is not None:
        reasons.append(why.ANNUAL_GUARANTEE.reason(date=joined))
    run_id = final_run_id(RunKind.ANNUAL, str(year))
    run = runs.get(run_id)
    closed = run is not None and run.status.closed
    if not closed:
        reasons.append(
            why.ANNUAL_RUN_NOT_CLOSED.reason(
                year=year,
                run_id=run_id,
                status=run_status(run),
                finalization=program.timeline.finalization_from,
            )
        )
    for entry in entries:
        if isinstance(entry.basis, GuaranteeTopUp):
            reasons.append(
                why.ANNUAL_GUARANTEE_PAID.reason(
                    component=entry.basis.component.replace("_", " "),
                    amount=format_cents(entry.amount_cents),
                    run_id=entry.run_id,
                    run_status=run_status(runs.get(entry.run_id)),
                )
            )
    base = tally(program, facts)
    paid = [(e, runs.get(e.run_id)) for e in entries if e.program == BENCHMARK_PROGRAM]
    lines = [
        _line(
            facts,
            clinic=clinic,
            line=line,
            months=months,
            program=program,
            metric=metric,
            tally=tally,
            base=base,
            paid=paid,
            closed_run=run_id if closed else None,
        )
        for (clinic_id, line), months in sorted(months_assigned(facts.spans, year).items())
        if clinic_id == clinic.clinic_id
    ]
    return ProgramExplanation(
        program=BENCHMARK_PROGRAM,
        version=program.version,
        measure=measure,
        year=year,
        run_id=run_id,
        run_status=run_status(run),
        reasons=tuple(reasons),
        lines=tuple(lines),
        entries=tuple(paid_entry(e, runs) for e in entries),
    )
