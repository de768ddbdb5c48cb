"""Who an action applies to, and which clinic a member is assigned to on a date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from shared.logic.dates import month_end
from shared.models.members import EligibilitySpan, MemberProfile, MonthCoverage
from shared.programs.care_gap import ActionDefinition, AgeAnchor, AgeBand


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on `day` (a birthday counts on the day itself; Feb 29 births on Mar 1)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def months_on(birth_date: date, day: date) -> int:
    """Completed months of age on `day`."""
    months = (day.year - birth_date.year) * 12 + day.month - birth_date.month
    if day.day < birth_date.day:
        months -= 1
    return months


def span_on(spans: Iterable[EligibilitySpan], day: date) -> EligibilitySpan | None:
    """The span in force on `day`; when rosters overlap, the one that started last wins."""
    covering = [s for s in spans if s.covers(day)]
    return max(covering, key=lambda s: (s.start, s.clinic_id), default=None)


def month_coverage(
    spans: Iterable[EligibilitySpan], month: str, *, plan_payer: str
) -> tuple[MonthCoverage, ...]:
    """What each roster span covering any day of `month` (`YYYY-MM`) says of it: clinic, line of business,
    product and payer (`plan_payer`, the deploying plan, where the span names none); one per distinct
    coverage, in the order the spans start. A member who moved, or changed product or payer, mid-month has
    several; one not enrolled that month has none."""
    last = month_end(month)
    first = last.replace(day=1)
    found: dict[tuple[str, str, str | None, str], MonthCoverage] = {}
    for span in sorted(spans, key=lambda s: (s.start, s.clinic_id)):
        if span.start > last or (span.end is not None and span.end < first):
            continue
        coverage = MonthCoverage(
            member_id=span.member_id,
            month=month,
            clinic_id=span.clinic_id,
            line_of_business=span.line_of_business,
            product=span.product,
            payer_id=span.payer(plan_payer),
        )
        key = (coverage.clinic_id, coverage.line_of_business.value, coverage.product, coverage.payer_id)
        found.setdefault(key, coverage)
    return tuple(found.values())


def anchor_date(action: ActionDefinition, period_year: int, action_date: date | None = None) -> date:
    """The date the action's age bounds are measured on."""
    if action.eligibility.age_anchor is AgeAnchor.ACTION_DATE and action_date is not None:
        return action_date
    return date(period_year, 12, 31)


def _band_fits(band: AgeBand, profile: MemberProfile, on: date) -> bool:
    if band.sex is not None and profile.gender != band.sex:
        return False
    age = age_on(profile.birth_date, on)
    if band.min_age is not None and age < band.min_age:
        return False
    if band.max_age is not None and age > band.max_age:
        return False
    if band.min_age_months is None and band.max_age_months is None:
        return True
    months = months_on(profile.birth_date, on)
    if band.min_age_months is not None and months < band.min_age_months:
        return False
    return band.max_age_months is None or months <= band.max_age_months


def in_denominator(
    profile: MemberProfile, action: ActionDefinition, period_year: int, action_date: date | None = None
) -> bool:
    """Sex and age rules of the action for the period (BCS-E: women 50-74 on Dec 31 of the year)."""
    on = anchor_date(action, period_year, action_date)
    return any(_band_fits(b, profile, on) for b in action.eligibility.bands)


def assignment_on(
    spans: Iterable[EligibilitySpan], action: ActionDefinition, day: date
) -> EligibilitySpan | None:
    """The span assigning the member to a clinic on `day` under a line of business the action covers."""
    span = span_on(spans, day)
    if span is None or span.line_of_business not in action.lines_of_business:
        return None
    return span


def has_conditions(
    action: ActionDefinition, conditions: Mapping[str, Sequence[date]], period_year: int
) -> bool:
    """The action's required conditions are all present, and none of its exclusions, in the
    measurement year or the `lookback_years` before it (`conditions`: fact dates by code-set name)."""
    first = period_year - action.eligibility.lookback_years

    def present(name: str) -> bool:
        return any(first <= d.year <= period_year for d in conditions.get(name, ()))

    rules = action.eligibility
    return all(present(n) for n in rules.conditions) and not any(present(n) for n in rules.exclusions)
