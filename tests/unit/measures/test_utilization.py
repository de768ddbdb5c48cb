"""AHU, EDU and TCOC for one member: stays, transfers, ED visits, standardized prices, and the contribution
over the months the member was attributed (member months, age/sex factors), each derived by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.logic.measures.apc import ApcMonthsError, Contribution
from shared.logic.measures.utilization import claim_lines
from shared.models.actions import Sex
from tests.unit.measures.builders import member, results, service

ADULT = date(1986, 1, 1)
"""40 on every month's first day of 2026: female factor 1.0358 (40-45)."""


def stay(claim_id: str, admitted: date, discharged: date | None, *, drg: str = "190", **more: Any) -> Any:
    """One hospital inpatient claim's room-and-board line."""
    details: dict[str, Any] = {
        "claim_type": "institutional",
        "bill_type_code": "0111",
        "revenue_center_code": "0120",
        "admission_date": admitted,
        "discharge_date": discharged,
        "discharge_disposition_code": "01",
        "ms_drg_code": drg,
        "allowed_amount": "8000.00",
    } | more
    return service(None, admitted, claim_id=claim_id, **details)


def events(*evidence: Any, code: str = "AHU", birth: date = ADULT) -> int:
    return results(member(*evidence, birth=birth), code).contributions[code].events


def test_an_acute_discharge_counts_once_and_a_direct_transfer_joins_it() -> None:
    # GIVEN a stay discharged 2026-03-05, then one admitted the next day (a direct transfer) or two days
    # later (a readmission)
    first = stay("C1", date(2026, 3, 2), date(2026, 3, 5))
    transfer = stay("C2", date(2026, 3, 6), date(2026, 3, 10))
    readmission = stay("C3", date(2026, 3, 7), date(2026, 3, 10))
    # WHEN AHU counts them
    # THEN one stay is one discharge, a transfer chain is one, a readmission two
    assert (events(first), events(first, transfer), events(first, readmission)) == (1, 1, 2)


@pytest.mark.parametrize(
    ("change", "counted"),
    [
        ({}, 1),
        ({"ms_drg_code": "795"}, 0),  # normal newborn
        ({"ms_drg_code": "885"}, 0),  # psychoses
        ({"discharge_disposition_code": "20"}, 0),  # expired
        ({"revenue_center_code": "0118"}, 0),  # nonacute (rehabilitation room and board)
        ({"discharge_date": None}, 0),  # not discharged yet
        ({"discharge_date": date(2027, 1, 2)}, 0),  # discharged after the year
        ({"bill_type_code": "0131"}, 0),  # hospital outpatient
        ({"claim_type": "professional"}, 0),  # the physician's claim for the stay
        ({"bill_type_code": "111"}, 1),  # the type of bill without its leading zero
    ],
)
def test_what_makes_a_stay_an_acute_discharge(change: dict[str, Any], counted: int) -> None:
    # GIVEN a stay admitted 2026-03-02 and discharged 2026-03-05, changed one way
    details: dict[str, Any] = {"discharge_date": date(2026, 3, 5)} | change
    discharged = details.pop("discharge_date")
    # WHEN AHU counts it
    # THEN only an acute hospital inpatient stay discharged alive in the year, outside the excluded DRGs,
    # counts
    assert events(stay("C1", date(2026, 3, 2), discharged, **details)) == counted


def test_an_acute_stay_then_a_nonacute_one_counts_the_acute_discharge() -> None:
    # GIVEN an acute stay discharged 2026-03-05 and a rehabilitation stay admitted the same day
    acute = stay("C1", date(2026, 3, 2), date(2026, 3, 5))
    rehab = stay("C2", date(2026, 3, 5), date(2026, 3, 20), revenue_center_code="0118")
    # THEN the acute discharge counts; the nonacute stay does not join it
    assert events(acute, rehab) == 1


def test_ed_visits_count_once_a_day_and_not_when_they_lead_to_an_admission() -> None:
    # GIVEN an ED day with a facility line (0450) and the physician's 99283; an ED visit on 2026-06-10
    # with an admission on 2026-06-11; one on 2026-07-01 with an admission on 2026-07-03; and an urgent
    # care visit (99213)
    facility: dict[str, Any] = {
        "claim_type": "institutional",
        "bill_type_code": "0131",
        "revenue_center_code": "0450",
    }
    evidence = [
        service(None, date(2026, 4, 3), **facility),
        service("99283", date(2026, 4, 3)),
        service("99284", date(2026, 6, 10)),
        stay("C1", date(2026, 6, 11), date(2026, 6, 14)),
        service("99284", date(2026, 7, 1)),
        stay("C2", date(2026, 7, 3), date(2026, 7, 5)),
        service("99213", date(2026, 8, 1)),
    ]
    # WHEN EDU counts them
    # THEN April's day and July's visit count: two
    assert events(*evidence, code="EDU") == 2


def test_ahu_and_edu_count_members_18_and_older_and_tcoc_every_member() -> None:
    # GIVEN a 17-year-old (on 31 December 2026) with a stay and an ED visit
    evidence = [stay("C1", date(2026, 3, 2), date(2026, 3, 5)), service("99284", date(2026, 6, 10))]
    found = results(member(*evidence, birth=date(2009, 1, 1))).contributions
    # THEN AHU and EDU count nothing for the member, not even member months; TCOC counts its months
    assert found["AHU"] == Contribution() and found["EDU"] == Contribution()
    assert found["TCOC"].member_months == 12


def test_tcoc_prices_a_stay_by_its_drg_and_lines_by_code_revenue_code_or_allowed_amount() -> None:
    # GIVEN, for a 40-year-old woman attributed all year (12 x 1.0358 = 12.4296 factor months):
    evidence = [
        stay("C1", date(2026, 3, 2), date(2026, 3, 5)),  # DRG 190: 7,400.00 (its allowed 8,000 unused)
        service("99213", date(2026, 2, 1), allowed_amount="61.00"),  # priced 99.00
        service(None, date(2026, 4, 3), claim_type="institutional", revenue_center_code="0450"),  # 1,100.00
        service("99999", date(2026, 5, 1), allowed_amount="42.10"),  # no price: its allowed amount
        service("99999", date(2026, 6, 1)),  # neither: unpriced
        stay("C2", date(2026, 8, 1), date(2026, 8, 4), drg="999", allowed_amount="5000.00"),  # no DRG price
        service("99213", date(2025, 12, 1)),  # last year's
    ]
    # WHEN TCOC is computed
    found = results(member(*evidence, birth=ADULT), "TCOC").contributions["TCOC"]
    # THEN the cost is 740,000 + 9,900 + 110,000 + 4,210 + 500,000 cents, one line is unpriced
    assert found.cost_cents == 740_000 + 9_900 + 110_000 + 4_210 + 500_000
    assert (found.unpriced_lines, found.member_months, found.factor_months) == (1, 12, Decimal("12.4296"))
    assert found.events == 0


def test_the_contribution_covers_only_the_attributed_months_with_the_age_of_each() -> None:
    # GIVEN a woman born 1986-04-15 (39 on 1 January to 1 April: 0.9758; 40 from 1 May: 1.0358), attributed
    # January to June, with a stay discharged in March and one in September, and an ED visit each in May
    # and October
    evidence = [
        stay("C1", date(2026, 3, 2), date(2026, 3, 5)),
        stay("C2", date(2026, 9, 2), date(2026, 9, 5)),
        service("99284", date(2026, 5, 10)),
        service("99284", date(2026, 10, 10)),
    ]
    months = tuple(f"2026-0{m}" for m in range(1, 7))
    found = results(member(*evidence, birth=date(1986, 4, 15)), months=months).contributions
    # THEN each rate counts six member months and 4 x 0.9758 + 2 x 1.0358 = 5.9748 factor months; AHU the
    # March discharge, EDU the May visit, TCOC March's stay at its DRG price and May's visit at 134.00
    for code in ("AHU", "EDU", "TCOC"):
        assert (found[code].member_months, found[code].factor_months) == (6, Decimal("5.9748"))
    assert (found["AHU"].events, found["EDU"].events) == (1, 1)
    assert found["TCOC"].cost_cents == 740_000 + 13_400


def test_a_man_reads_the_male_factor_and_no_months_contribute_nothing() -> None:
    # GIVEN a 40-year-old man attributed in March only, and the same member attributed no month
    evidence = [stay("C1", date(2026, 3, 2), date(2026, 3, 5))]
    march = results(member(*evidence, birth=ADULT, gender=Sex.M), months=("2026-03",)).contributions["AHU"]
    none = results(member(*evidence, birth=ADULT, gender=Sex.M), months=()).contributions["AHU"]
    # THEN March counts one month at 0.8777 (male, 40-45) and its discharge; no months, nothing
    assert march == Contribution(member_months=1, factor_months=Decimal("0.8777"), events=1)
    assert none == Contribution()


def test_months_outside_the_year_or_twice_are_refused() -> None:
    facts = member(birth=ADULT)
    with pytest.raises(ApcMonthsError, match="2025-12 is not a month of 2026"):
        results(facts, months=("2025-12",))
    with pytest.raises(ApcMonthsError, match="listed twice"):
        results(facts, months=("2026-01", "2026-01"))


def test_a_line_is_one_line_however_many_items_and_counts_as_known_by_its_receipt() -> None:
    # GIVEN one claim line evidencing two things (two items of one claim id and line), received 2027-04-15,
    # and another line received 2027-03-01
    twice = service("99213", date(2026, 2, 1), claim_id="C9", received=date(2027, 4, 15))
    other = twice.model_copy(update={"action": "WCV", "source_row": twice.source_row})
    early = service("99213", date(2026, 5, 1), claim_id="C10", received=date(2027, 3, 1))
    # WHEN the member's lines are read, all of them and as known by 2027-03-31
    every = claim_lines([twice, other, early])
    known = claim_lines([twice, other, early], known_by=date(2027, 3, 31))
    # THEN the first is one line, and by the runout's end only the second is known
    assert [(c.claim_id, c.line) for c in every] == [("C9", 1), ("C10", 1)]
    assert [c.claim_id for c in known] == ["C10"]
