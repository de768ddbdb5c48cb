"""Measure rates per clinic for the annual run (denominator = applicable gaps, numerator = closed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from shared.logic.eligibility import assignment_on
from shared.logic.gaps import build_gap
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from shared.models.runs import MeasureCount
from shared.programs.care_gap import CareGapProgram


def measure_counts(
    members: Iterable[MemberFacts], *, program: CareGapProgram, year: int
) -> list[MeasureCount]:
    """Per clinic and action: members whose gap applies (assigned at year end) and how many closed."""
    year_end = date(year, 12, 31)
    den: Counter[tuple[str, str]] = Counter()
    num: Counter[tuple[str, str]] = Counter()
    for facts in members:
        for action in program.actions:
            span = assignment_on(facts.spans, action, year_end)
            if span is None:
                continue
            gap = build_gap(
                profile=facts.profile,
                spans=facts.spans,
                evidence=facts.evidence,
                action=action,
                program=program,
                period_year=year,
                as_of=date.max,
            )
            if gap.status is GapStatus.NOT_APPLICABLE:
                continue
            key = (span.clinic_id, action.code)
            den[key] += 1
            num[key] += gap.status is GapStatus.CLOSED
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
