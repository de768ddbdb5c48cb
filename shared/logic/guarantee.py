"""The Care Gap earnings guarantee: a Benchmark P4P bonus prorated to the calendar days before a clinic
enrolled in Care Gap P4P, and a "make whole" top-up when Care Gap P4P paid it less than Benchmark P4P
would have for the days after (the guidelines' "Earnings Guarantees"; docs/annual-incentives.md)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from shared.logic.benchmark import half_up
from shared.logic.money import parse_dollars
from shared.models.incentives import GuaranteeInput, GuaranteeResult


def days_before_enrollment(year: int, enrollment_date: date) -> int:
    """Calendar days of `year` before the clinic's first Care Gap day (the enrollment day is a Care Gap
    day): 0 when it enrolled in an earlier year, and every day of the year when it enrolled after it."""
    first = date(year, 1, 1)
    if enrollment_date.year < year:
        return 0
    if enrollment_date.year > year:
        return _days_in(year)
    return (enrollment_date - first).days


def earnings_guarantee(clinic: GuaranteeInput) -> GuaranteeResult:
    """The guarantee for one clinic and year: the full-year Benchmark bonus prorated to the days before
    enrollment (half up to the cent), plus whatever the clinic's net Care Gap earnings fall short of the
    Benchmark bonus for the remaining days."""
    days = _days_in(clinic.year)
    before = days_before_enrollment(clinic.year, clinic.enrollment_date)
    full = parse_dollars(str(clinic.benchmark_full_year))
    earnings = parse_dollars(str(clinic.care_gap_earnings))
    prorated = half_up(Fraction(full * before, days))
    # The equivalent is the remainder, not a second proration, so the two parts add up to the full bonus.
    equivalent = full - prorated
    make_whole = max(0, equivalent - earnings)
    return GuaranteeResult(
        year=clinic.year,
        enrollment_date=clinic.enrollment_date,
        days=days,
        days_before=before,
        days_on_care_gap=days - before,
        benchmark_full_year_cents=full,
        care_gap_earnings_cents=earnings,
        prorated_benchmark_cents=prorated,
        equivalent_benchmark_cents=equivalent,
        make_whole_cents=make_whole,
        guarantee_total_cents=prorated + make_whole,
    )


def _days_in(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days
