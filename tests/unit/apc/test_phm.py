"""APC Element 2: age on the month's first day, the band's bounds, the Unknown column, the HPI uplift,
TA gating and half-up cents per member-month; refusals; properties of the total."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.phm import PhmInputError, age_on, member_month, population_health
from shared.models.actions import Sex
from shared.models.apc import PhmInput
from shared.programs.apc import load_apc

RISK = load_apc().latest().risk_adjustment


def _month(birth: str, month: str, gender: Sex | None = Sex.F, pmpm: str = "4.00", decile: int | None = None):
    return member_month(
        member_id="M1",
        birth_date=date.fromisoformat(birth),
        gender=gender,
        month=month,
        pmpm=Decimal(pmpm),
        hpi_decile=decile,
        ta_compliant=True,
        risk=RISK,
    )


@pytest.mark.parametrize(
    ("birth", "month", "age", "factor"),
    [
        ("2024-03-01", "2026-03", 2, "0.9539"),  # second birthday on the 1st: 2-6 from that month
        ("2024-03-02", "2026-03", 1, "1.2169"),  # birthday on the 2nd: still 0-2 for the month
        ("2024-03-01", "2026-02", 1, "1.2169"),
        ("2008-03-01", "2026-03", 18, "0.7072"),  # 18 is the lower bound of 18-25, not in 6-18
        ("2008-03-02", "2026-03", 17, "0.6673"),
        ("2008-02-29", "2026-03", 18, "0.7072"),  # a leap-day birthday has passed by 1 March
        ("2008-02-29", "2026-02", 17, "0.6673"),
        ("1961-04-01", "2026-04", 65, "1.6814"),  # 65+ from the month that starts on the 65th birthday
        ("1961-04-01", "2026-03", 64, "1.3670"),
        ("2026-03-15", "2026-03", 0, "1.2169"),  # born during the month: age 0, paid from birth
    ],
)
def test_age_is_whole_years_on_the_first_day_of_the_month(
    birth: str, month: str, age: int, factor: str
) -> None:
    # GIVEN a female member and a month
    # WHEN the member-month is priced
    row = _month(birth, month)
    # THEN her age is taken on the month's first day and its band includes its lower bound only
    assert (row.age, row.factor) == (age, Decimal(factor))


@pytest.mark.parametrize(
    ("gender", "factor"), [(Sex.F, "0.8752"), (Sex.M, "0.7227"), (Sex.U, "0.7989"), (None, "0.7989")]
)
def test_u_or_no_gender_reads_the_unknown_column(gender: Sex | None, factor: str) -> None:
    # GIVEN a member aged 27 of each gender, and one who did not disclose it
    # WHEN the member-month is priced
    row = _month("1999-01-15", "2026-06", gender=gender)
    # THEN the factor is the 25-30 row's column for the gender, Unknown for U and for none
    assert row.factor == Decimal(factor)


@pytest.mark.parametrize(
    ("decile", "amount_cents"),
    [
        # $4.00 x 1.2169 = $4.8676; x 1.05 = 5.11098 -> 5.11; x 1.04 = 5.062304 -> 5.06; x 1.01 = 4.916276
        (1, 511),
        (2, 506),
        (5, 492),
        (6, 487),  # no uplift: 4.8676 -> 4.87
        (10, 487),
        (None, 487),
    ],
)
def test_hpi_uplift_by_the_practices_decile(decile: int | None, amount_cents: int) -> None:
    # GIVEN a girl under 2 (factor 1.2169) at $4.00 PMPM and a practice in a decile
    # WHEN the member-month is priced
    row = _month("2025-06-01", "2026-01", decile=decile)
    # THEN the amount is PMPM x factor x (1 + uplift), half up to the cent
    assert row.amount_cents == amount_cents


def test_half_a_cent_rounds_up() -> None:
    # GIVEN a man aged 20 (factor 0.5180) at $7.50 PMPM, no uplift: exactly $3.885
    # WHEN the member-month is priced
    row = _month("2005-05-05", "2026-01", gender=Sex.M, pmpm="7.50")
    # THEN it is paid 3.89 (half up, not half to even)
    assert row.amount_cents == 389


def _practice(**changes: Any) -> PhmInput:
    body: dict[str, Any] = {
        "pmpm": "4.00",
        "hpi_decile": 3,
        "ta_compliant": {"2026-01": True, "2026-02": False, "2026-03": True},
        "members": [
            {
                "member_id": "A",
                "birth_date": "1990-01-01",
                "gender": "F",
                "months": ["2026-01", "2026-02", "2026-03"],
            },
            {"member_id": "B", "birth_date": "1950-07-04", "gender": "M", "months": ["2026-03"]},
        ],
    }
    return PhmInput.model_validate_json(json.dumps(body | changes))


def test_a_month_that_missed_the_ta_requirements_pays_nothing() -> None:
    # GIVEN a practice that missed its TA requirements in February
    # WHEN its quarter is priced
    result = population_health(_practice(), RISK)
    # THEN February pays nothing and the others PMPM x factor x 1.03, half up, added for the total:
    # A is 36 (0.9758): 4 x 0.9758 x 1.03 = 4.020296 -> 4.02; B is 75 (1.5546): 6.404952 -> 6.40
    rows = [(m.member_id, m.month, m.ta_compliant, m.amount_cents) for m in result.member_months]
    assert rows == [
        ("A", "2026-01", True, 402),
        ("A", "2026-02", False, 0),
        ("A", "2026-03", True, 402),
        ("B", "2026-03", True, 640),
    ]
    assert result.total_cents == 402 + 402 + 640


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            [{"member_id": "A", "birth_date": "1990-01-01", "months": ["2026-04"]}],
            "members.0.months.0: 2026-04 has no entry in ta_compliant",
        ),
        (
            [{"member_id": "A", "birth_date": "1990-01-01", "months": ["2026-01", "2026-01"]}],
            "members.0.months.1: 2026-01 is listed twice",
        ),
        (
            [{"member_id": "A", "birth_date": "2026-02-10", "months": ["2026-01"]}],
            "members.0.months.0: 2026-01 is before the member's month of birth",
        ),
        (
            [
                {"member_id": "A", "birth_date": "1990-01-01", "months": ["2026-01"]},
                {"member_id": "A", "birth_date": "1990-01-01", "months": ["2026-03"]},
            ],
            "members.1.member_id: the member is listed twice",
        ),
    ],
)
def test_member_months_that_cannot_be_paid_are_refused_by_key(
    members: list[dict[str, Any]], message: str
) -> None:
    # GIVEN members whose months the payment cannot be computed for
    practice = _practice(members=members)
    # WHEN the payment is computed
    with pytest.raises(PhmInputError) as error:
        population_health(practice, RISK)
    # THEN the error names the member-month by position (never the member's data) and why
    assert message in str(error.value)


def test_age_on_counts_a_birthday_on_the_day() -> None:
    # GIVEN a birth date and days around a birthday
    # WHEN ages are taken
    # THEN the birthday itself counts, the day before does not
    assert age_on(date(2000, 6, 15), date(2026, 6, 15)) == 26
    assert age_on(date(2000, 6, 15), date(2026, 6, 14)) == 25


_MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]


@st.composite
def practices(draw: st.DrawFn) -> PhmInput:
    members = []
    for i in range(draw(st.integers(0, 6))):
        members.append(
            {
                "member_id": f"M{i}",
                "birth_date": draw(st.dates(date(1920, 1, 1), date(2025, 12, 31))).isoformat(),
                "gender": draw(st.sampled_from(["F", "M", "U", None])),
                "months": draw(st.lists(st.sampled_from(_MONTHS), unique=True, max_size=12)),
            }
        )
    return PhmInput.model_validate_json(
        json.dumps(
            {
                "pmpm": str(Decimal(draw(st.integers(0, 100_000))) / 1000),
                "hpi_decile": draw(st.none() | st.integers(1, 10)),
                "ta_compliant": {m: draw(st.booleans()) for m in _MONTHS},
                "members": members,
            }
        )
    )


@settings(max_examples=150, deadline=None)
@given(practices())
def test_the_total_is_the_member_months_and_gating_and_uplift_hold(practice: PhmInput) -> None:
    # GIVEN any practice's members and months
    # WHEN its payment is computed
    result = population_health(practice, RISK)
    # THEN there is one row per member-month, the total is their sum, a missed month pays nothing,
    # and each amount is within half a cent of PMPM x factor x (1 + uplift)
    assert len(result.member_months) == sum(len(m.months) for m in practice.members)
    assert result.total_cents == sum(m.amount_cents for m in result.member_months)
    for row in result.member_months:
        assert row.ta_compliant is practice.ta_compliant[row.month]
        exact = practice.pmpm * row.factor * (1 + row.uplift) * 100
        if row.ta_compliant:
            assert abs(row.amount_cents - exact) <= Decimal("0.5")
        else:
            assert row.amount_cents == 0
        assert row.uplift == RISK.uplift(practice.hpi_decile)
