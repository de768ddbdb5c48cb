"""The Care Gap earnings guarantee: the doc's boundary cases and its properties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.logic.guarantee import days_before_enrollment, earnings_guarantee
from shared.logic.money import format_cents
from shared.models.incentives import GuaranteeInput
from tests.unit.incentives.cases import GUARANTEE_CASES, GuaranteeCase


@pytest.mark.parametrize("case", GUARANTEE_CASES, ids=[c.name for c in GUARANTEE_CASES])
def test_every_row_of_the_doc_table(case: GuaranteeCase) -> None:
    # GIVEN one row of the table in docs/annual-incentives.md
    # WHEN the clinic's guarantee is calculated
    result = earnings_guarantee(case.clinic)
    # THEN the days and every amount are the row's
    assert (result.days_before, result.days_on_care_gap) == (case.days_before, case.days_on_care_gap)
    assert format_cents(result.prorated_benchmark_cents) == case.prorated_benchmark
    assert format_cents(result.equivalent_benchmark_cents) == case.equivalent_benchmark
    assert format_cents(result.make_whole_cents) == case.make_whole
    assert format_cents(result.guarantee_total_cents) == case.guarantee_total


@pytest.mark.parametrize(
    ("year", "enrolled", "days_before"),
    [
        (2026, date(2026, 1, 1), 0),
        (2026, date(2026, 1, 2), 1),
        (2026, date(2026, 12, 31), 364),
        (2028, date(2028, 12, 31), 365),
        (2026, date(2019, 5, 5), 0),
        (2026, date(2031, 5, 5), 365),
        (2028, date(2031, 5, 5), 366),
    ],
)
def test_the_enrollment_day_is_a_care_gap_day(year: int, enrolled: date, days_before: int) -> None:
    # GIVEN a year and an enrollment date in it, before it or after it
    # WHEN the days before enrollment are counted
    # THEN the enrollment day itself is not one of them; earlier years give 0, later ones the whole year
    assert days_before_enrollment(year, enrolled) == days_before


_years = st.integers(min_value=2000, max_value=2100)
_cents = st.integers(min_value=0, max_value=10**10)


@st.composite
def _guarantees(draw: st.DrawFn) -> GuaranteeInput:
    year = draw(_years)
    enrolled = draw(st.dates(min_value=date(year - 2, 1, 1), max_value=date(year + 2, 12, 31)))
    return GuaranteeInput(
        year=year,
        enrollment_date=enrolled,
        benchmark_full_year=Decimal(draw(_cents)) / 100,
        care_gap_earnings=Decimal(draw(_cents)) / 100,
    )


@given(_guarantees())
def test_guarantee_properties(clinic: GuaranteeInput) -> None:
    # GIVEN any clinic's year
    # WHEN its guarantee is calculated
    r = earnings_guarantee(clinic)
    # THEN the prorated and equivalent bonuses make the full bonus, and the days make the year
    assert r.prorated_benchmark_cents + r.equivalent_benchmark_cents == r.benchmark_full_year_cents
    assert r.days_before + r.days_on_care_gap == r.days
    # AND the guarantee is at least the prorated bonus, the make-whole never negative
    assert r.guarantee_total_cents >= r.prorated_benchmark_cents
    assert r.make_whole_cents >= 0
    # AND with its Care Gap earnings the clinic ends the year with at least the full Benchmark bonus
    assert r.guarantee_total_cents + r.care_gap_earnings_cents >= r.benchmark_full_year_cents
    # AND the prorated bonus is within half a cent of the exact proration
    exact = Fraction(r.benchmark_full_year_cents * r.days_before, r.days)
    assert abs(r.prorated_benchmark_cents - exact) <= Fraction(1, 2)
