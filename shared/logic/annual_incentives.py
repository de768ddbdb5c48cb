"""The annual run's rules over members and clinics: who counts for Benchmark P4P, what it pays, and the
Care Gap earnings guarantee (docs/annual-incentives.md has the payout rules themselves).

- **Who counts**: a member counts for a clinic and line of business when assigned to it under that line
  in at least the program's `assignment_months` of the year's twelve (a month counts when a roster span
  at the clinic covers any day of it), and each measure's own denominator rules apply on top.
- **What is known**: claims and supplemental data received by the submission deadline; for the measures
  the program allows, the clinic's attestation of compliance made in the attestation window.
- **Who is paid**: a clinic in Benchmark P4P for the whole year (`Clinic.in_benchmark_for`) is paid its
  payout per line of business (or its share of the funding pool); a Care Gap clinic in a year its Care Gap
  version guarantees gets the prorated Benchmark bonus and the make-whole top-up, its full-year bonus
  computed on its own data as if it had stayed in Benchmark.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.logic.guarantee import earnings_guarantee
from shared.models.evidence import EvidenceSource
from shared.models.incentives import (
    BenchmarkInput,
    BenchmarkMeasure,
    BenchmarkResult,
    GuaranteeInput,
    GuaranteeResult,
)
from shared.models.members import Clinic, EligibilitySpan, MemberFacts
from shared.programs.benchmark import BenchmarkMetric, BenchmarkProgram, BenchmarkTimeline

RATE_PLACES = Decimal("0.0001")
"""Rates are percentages to four places, rounded half up: 57.0000 meets a 57 benchmark exactly."""


def _months(year: int) -> list[tuple[date, date]]:
    starts = [date(year, m, 1) for m in range(1, 13)] + [date(year + 1, 1, 1)]
    return [(starts[i], starts[i + 1] - timedelta(1)) for i in range(12)]


def months_assigned(spans: Iterable[EligibilitySpan], year: int) -> Counter[tuple[str, str]]:
    """Months of `year` the member was assigned to each (clinic, line of business)."""
    found: Counter[tuple[str, str]] = Counter()
    spans = list(spans)
    for first, last in _months(year):
        keys = {
            (s.clinic_id, s.line_of_business.value)
            for s in spans
            if s.start <= last and (s.end is None or s.end >= first)
        }
        found.update(keys)
    return found


def attributed_months(spans: Iterable[EligibilitySpan], year: int) -> dict[str, tuple[str, ...]]:
    """The months (`YYYY-MM`) of `year` a member was attributed to each clinic, whatever the line of
    business: a month counts for a clinic when a roster span there covers any day of it (APC attributes by
    the roster until claims-based attribution runs)."""
    found: dict[str, list[str]] = {}
    spans = list(spans)
    for first, last in _months(year):
        for clinic_id in sorted(
            {s.clinic_id for s in spans if s.start <= last and (s.end is None or s.end >= first)}
        ):
            found.setdefault(clinic_id, []).append(f"{first:%Y-%m}")
    return {clinic_id: tuple(months) for clinic_id, months in found.items()}


def quality_practice(spans: Iterable[EligibilitySpan], months: Mapping[str, Sequence[str]]) -> str | None:
    """The practice whose quality rates a member counts in: the one attributed in the member's latest
    attributed month; of two that month, the one whose roster span began later (then the lower id)."""
    if not months:
        return None
    latest = max(m[-1] for m in months.values() if m)
    candidates = [c for c, m in months.items() if m and m[-1] == latest]
    starts = {c: max((s.start for s in spans if s.clinic_id == c), default=date.min) for c in candidates}
    return sorted(candidates, key=lambda c: (-starts[c].toordinal(), c))[0]


def runout_end(year: int, months: int) -> date:
    """The last day data about `year` still count: `months` months after it (0: 31 December)."""
    month = 12 + months
    first_after = date(year + (month // 12), month % 12 + 1, 1)
    return first_after - timedelta(days=1)


def panels_of(facts: MemberFacts, program: BenchmarkProgram) -> list[tuple[str, str]]:
    """The (clinic, line of business) pairs the member counts for: assigned at least the program's months,
    under a line the program pays."""
    paid = {line.line_of_business.value for line in program.lines}
    months = months_assigned(facts.spans, program.measurement_year)
    return sorted(key for key, n in months.items() if n >= program.assignment_months and key[1] in paid)


def known_evidence(facts: MemberFacts, program: BenchmarkProgram) -> MemberFacts:
    """The member's claims and supplemental data the program counts: everything received by the submission
    deadline. (The measure engine reads no attestation; the attestation window is `attests_compliance`.)"""
    deadline = program.timeline.submission_deadline
    kept = tuple(
        item
        for item in facts.evidence
        if item.source is not EvidenceSource.ATTESTATION and item.known_date <= deadline
    )
    return facts.model_copy(update={"evidence": kept})


def attests_compliance(facts: MemberFacts, action: str, clinic_id: str, timeline: BenchmarkTimeline) -> bool:
    """True when `clinic_id` attested the member's `action` in the attestation window (the seed: providers
    attest compliance for select metrics in April, for the measurement year before): the date of such an
    attestation is the day it was made, inside the window."""
    return any(
        item.source is EvidenceSource.ATTESTATION
        and str(item.action) == action
        and item.attesting_clinic_id == clinic_id
        and timeline.attestation_from <= item.action_date <= timeline.attestation_to
        for item in facts.evidence
    )


def rate_percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a percentage to four places; None for an empty denominator."""
    if denominator <= 0:
        return None
    return (Decimal(numerator * 100) / Decimal(denominator)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineCounts:
    """One clinic's line of business over the year: members who counted, and each measure's counts."""

    clinic_id: str
    line_of_business: str
    assigned_members: int
    measures: Mapping[str, tuple[int, int]]  # measure code -> (denominator, numerator)


def benchmark_input(
    program: BenchmarkProgram,
    metrics: Sequence[BenchmarkMetric],
    counts: LineCounts,
    prior_rates: Mapping[str, Decimal],
) -> BenchmarkInput | None:
    """The payout input for one clinic's line (None when the program does not pay the line)."""
    line = program.line(counts.line_of_business)
    if line is None:
        return None
    measures = {}
    for metric in metrics:
        denominator, numerator = counts.measures.get(metric.code, (0, 0))
        measures[metric.code] = BenchmarkMeasure(
            weight=metric.weight,
            benchmark=metric.benchmark,
            inverse=metric.inverse,
            required_improvement_points=metric.required_improvement_points,
            rate=rate_percent(numerator, denominator),
            prior_rate=prior_rates.get(metric.code),
            denominator=denominator,
        )
    return BenchmarkInput(
        line_of_business=line.line_of_business,
        assigned_members=counts.assigned_members,
        minimum_members=line.minimum_members,
        minimum_denominator=program.minimum_denominator,
        amount_per_member=line.amount_per_member,
        measures=measures,
    )


def full_year_bonus(results: Iterable[BenchmarkResult]) -> int:
    """A clinic's full-year Benchmark bonus in cents: its payouts over its lines of business."""
    return sum(r.payment_cents for r in results)


def guarantee(clinic: Clinic, year: int, full_year_cents: int, care_gap_cents: int) -> GuaranteeResult | None:
    """The Care Gap earnings guarantee of a clinic in Care Gap P4P during `year` (None for one that is not).
    Net Care Gap earnings below zero count as zero (a year's reversals of earlier years' awards do not
    raise the guarantee)."""
    joined = clinic.care_gap_start(year)
    if joined is None:
        return None
    return earnings_guarantee(
        GuaranteeInput(
            year=year,
            enrollment_date=joined,
            benchmark_full_year=Decimal(full_year_cents) / 100,
            care_gap_earnings=Decimal(max(care_gap_cents, 0)) / 100,
        )
    )
