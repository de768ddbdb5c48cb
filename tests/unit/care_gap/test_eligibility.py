from datetime import date

import pytest

from shared.logic.eligibility import age_on, assignment_on, in_denominator, span_on
from shared.models.actions import LineOfBusiness, Sex
from tests.unit.care_gap.factories import BCS, profile, span


@pytest.mark.parametrize(
    ("birth", "eligible"),
    [
        (date(1976, 12, 31), True),  # turns 50 on the last day of the measurement year
        (date(1977, 1, 1), False),  # turns 50 only in 2027
        (date(1952, 1, 1), True),  # 74 all year, 75 on 2027-01-01
        (date(1951, 12, 31), False),  # 75 on the anchor date
    ],
)
def test_bcs_e_age_is_measured_on_december_31(birth, eligible):
    # GIVEN a woman born on `birth`
    member = profile(birth=birth)
    # WHEN BCS-E eligibility for 2026 is decided
    # THEN only ages 50-74 on 2026-12-31 count
    assert in_denominator(member, BCS, 2026) is eligible


@pytest.mark.parametrize("gender", [Sex.M, Sex.U])
def test_bcs_e_is_for_women(gender):
    # GIVEN a member of the right age who is not recorded as female
    # WHEN eligibility is decided
    # THEN BCS-E does not apply
    assert not in_denominator(profile(gender=gender), BCS, 2026)


def test_age_counts_birthdays_including_leap_days():
    # GIVEN a member born on Feb 29
    birth = date(2000, 2, 29)
    # WHEN ages are taken around the birthday in a common year
    # THEN the year completes on Mar 1
    assert (age_on(birth, date(2026, 2, 28)), age_on(birth, date(2026, 3, 1))) == (25, 26)


def test_assignment_follows_the_span_in_force_on_the_day():
    # GIVEN a member who moves from C1 to C2 on April 1 and then leaves MC for COMM in July
    spans = (
        span("C1", start=date(2026, 1, 1), end=date(2026, 3, 31)),
        span("C2", start=date(2026, 4, 1), end=date(2026, 6, 30)),
        span("C3", start=date(2026, 7, 1), lob=LineOfBusiness.COMM),
    )
    # WHEN the assignment is asked on each side of the moves
    # THEN the span in force decides, and a line of business BCS-E does not cover assigns no one
    assert assignment_on(spans, BCS, date(2026, 3, 31)).clinic_id == "C1"  # type: ignore[union-attr]
    assert assignment_on(spans, BCS, date(2026, 4, 1)).clinic_id == "C2"  # type: ignore[union-attr]
    assert assignment_on(spans, BCS, date(2026, 7, 1)) is None
    assert span_on(spans, date(2025, 12, 31)) is None
