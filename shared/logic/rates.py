"""Measure rates per clinic for the annual run (denominator = applicable gaps, numerator = closed).

Every action whose `measure` names a measure definition (`shared/logic/measures/definitions/`) is rated:
BCS-E, CCS-E, COL-E, CHL, DSF-E, CBP, GSD, EED, KED, SPC and each CIS antigen. A gap counts in the year it
is judged for, as the year ended, with every piece of evidence the plan holds now:
- yearly actions, results (CBP, GSD): the year's gap, closed or not;
- immunizations with an age window (CIS): children whose window ends in the year (the 2nd birthday),
  closed when the series was complete by then;
- statin adherence (SPC): members in the year's denominator, closed when the fills cover at least 80%
  of the days from the first fill in the year to 31 December (the live gap also asks for supply left).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from shared.logic.counting import ADHERENCE_THRESHOLD, dose_window, proportion_of_days_covered
from shared.logic.eligibility import assignment_on
from shared.logic.gaps import action_gaps
from shared.logic.measures.definitions import all_definitions
from shared.logic.occurrences import MemberView
from shared.models.actions import ActionCode
from shared.models.evidence import EvidenceSource
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from shared.models.runs import MeasureCount
from shared.programs.care_gap import ActionDefinition, CareGapProgram
from shared.programs.menu import FrequencyPer


class MeasureDefinitionMissingError(LookupError):
    """A program action names a measure that has no definition in `shared/logic/measures/definitions/`."""


def rated_actions(program: CareGapProgram) -> tuple[ActionCode, ...]:
    """The program's actions whose `measure` names a known measure definition, in menu order."""
    known = {d["name"] for d in all_definitions()}
    rated = []
    for action in program.actions:
        if action.measure is None:
            continue
        if action.measure not in known:
            raise MeasureDefinitionMissingError(
                f"{program.version}: {action.code} names measure {action.measure}, which has no definition"
            )
        rated.append(action.code)
    return tuple(rated)


def year_end_status(
    view: MemberView, action: ActionDefinition, program: CareGapProgram, year: int
) -> bool | None:
    """Whether the member's `year` gap of `action` was closed as the year ended (None: not in the
    denominator), judged on every piece of evidence in `view`."""
    year_end = date(year, 12, 31)
    as_of = date.max
    rule = action.doses
    if action.frequency.per is FrequencyPer.DOSE and rule is not None and rule.window is not None:
        # Judged on the day the age window ends; past it, an unfinished series is no longer a gap.
        as_of = dose_window(rule, view.profile.birth_date, year_end)[1]
        if as_of.year != year:
            return None
    found = action_gaps(view, action, program, as_of=as_of, track=None, period_year=year)
    if not found or found[0].status is GapStatus.NOT_APPLICABLE:
        return None
    if action.frequency.per is FrequencyPer.PRESCRIPTION:
        return _adherent(view, action, year)
    return found[0].status is GapStatus.CLOSED


def _adherent(view: MemberView, action: ActionDefinition, year: int) -> bool:
    fills = [
        (e.action_date, e.days_supply or 0)
        for e in view.by_action.get(action.code, ())
        if e.source is EvidenceSource.PHARMACY_CLAIM and e.action_date.year == year
    ]
    if not fills:
        return False
    start = min(day for day, _ in fills)
    return proportion_of_days_covered(fills, start, date(year, 12, 31)) >= ADHERENCE_THRESHOLD


def measure_counts(
    members: Iterable[MemberFacts],
    *,
    program: CareGapProgram,
    year: int,
    actions: Iterable[ActionCode] | None = None,
) -> list[MeasureCount]:
    """Per clinic (assignment on 31 December) and action: members whose gap applies and how many closed.
    `actions` defaults to the program's rated actions (`rated_actions`)."""
    year_end = date(year, 12, 31)
    wanted = set(actions) if actions is not None else set(rated_actions(program))
    chosen = [a for a in program.actions if a.code in wanted]
    den: Counter[tuple[str, str]] = Counter()
    num: Counter[tuple[str, str]] = Counter()
    for facts in members:
        view = MemberView.of_facts(facts)
        for action in chosen:
            span = assignment_on(facts.spans, action, year_end)
            if span is None:
                continue
            closed = year_end_status(view, action, program, year)
            if closed is None:
                continue
            key = (span.clinic_id, action.code)
            den[key] += 1
            num[key] += closed
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
