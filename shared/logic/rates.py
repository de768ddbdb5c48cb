"""Measure rates per clinic for the annual run (denominator = applicable gaps, numerator = closed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from shared.logic.eligibility import assignment_on
from shared.logic.gaps import build_gap
from shared.models.actions import ActionCode
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from shared.models.runs import MeasureCount
from shared.programs.care_gap import CareGapProgram

RATE_ACTIONS: tuple[ActionCode, ...] = (ActionCode("BCS-E"),)
"""The annual run reports BCS-E until the Benchmark P4P work widens it (`actions=None`: every action)."""


def measure_counts(
    members: Iterable[MemberFacts],
    *,
    program: CareGapProgram,
    year: int,
    actions: Iterable[ActionCode] | None = RATE_ACTIONS,
) -> list[MeasureCount]:
    """Per clinic and action: members whose gap applies (assigned at year end) and how many closed."""
    year_end = date(year, 12, 31)
    wanted = set(actions) if actions is not None else None
    den: Counter[tuple[str, str]] = Counter()
    num: Counter[tuple[str, str]] = Counter()
    for facts in members:
        for action in program.actions:
            if wanted is not None and action.code not in wanted:
                continue
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
