"""APC attribution: the selected PCP for the products that prefer it, claims otherwise (most visits, then
the latest, then the most allowed dollars; the provider within the practice the same way), what counts as
a primary-care visit, the 24-month lookback, and unattributed members."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.attribution import Attributor, lookback_start
from shared.models.apc import AttributionMember, AttributionRule, Product, ProviderRecord, Visit
from shared.programs.apc import load_apc

RULES = load_apc().latest().attribution
PROVIDERS = {
    "1000000001": ProviderRecord(practice_id="P1", primary_care=True),
    "1000000002": ProviderRecord(practice_id="P1", primary_care=True),
    "2000000001": ProviderRecord(practice_id="P2", primary_care=True),
    "2000000009": ProviderRecord(practice_id="P2", primary_care=False),  # a specialist of a practice
    "3000000001": ProviderRecord(practice_id="P3", primary_care=True),
}
ATTRIBUTOR = Attributor(RULES, PROVIDERS)
PPO = AttributionMember(product=Product.COMMERCIAL_PPO)


def visit(day: str, npi: str, code: str = "99213", pos: str = "11", allowed: str | None = "100.00") -> Visit:
    body: dict[str, Any] = {
        "date": day,
        "rendering_npi": npi,
        "hcpcs_code": code,
        "place_of_service_code": pos,
    }
    if allowed is not None:
        body["allowed_amount"] = allowed
    return Visit.model_validate_json(json.dumps(body))


@pytest.mark.parametrize("product", [Product.COMMERCIAL_HMO, Product.MEDICARE_ADVANTAGE, Product.MEDI_CAL])
def test_the_selected_pcp_wins_for_hmo_ma_and_medi_cal(product: Product) -> None:
    # GIVEN a member whose selected PCP is in P3, with every claim at P1
    member = AttributionMember(product=product, pcp_npi="3000000001")
    visits = [visit("2026-01-10", "1000000001"), visit("2026-02-10", "1000000001")]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", member, visits)
    # THEN it goes to the PCP's practice by the selected-PCP rule, without reading claims
    assert (found.practice_id, found.provider_npi, found.rule) == (
        "P3",
        "3000000001",
        AttributionRule.SELECTED_PCP,
    )
    assert (found.visits_counted, found.last_visit) == (0, None)


@pytest.mark.parametrize(
    ("product", "pcp"),
    [
        (Product.COMMERCIAL_PPO, "3000000001"),  # PPO and EPO are strictly claims-based
        (Product.COMMERCIAL_EPO, "3000000001"),
        (Product.COMMERCIAL_HMO, "9999999999"),  # the PCP belongs to no participating practice
        (Product.COMMERCIAL_HMO, None),  # no PCP selected or matched
    ],
)
def test_otherwise_claims_decide(product: Product, pcp: str | None) -> None:
    # GIVEN a member with visits only at P1
    member = AttributionMember(product=product, pcp_npi=pcp)
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", member, [visit("2026-01-10", "1000000001")])
    # THEN claims attribute the member to P1
    assert (found.practice_id, found.rule, found.visits_counted) == ("P1", AttributionRule.CLAIMS, 1)


def test_most_visits_wins() -> None:
    # GIVEN two visits at P1 and one later, dearer visit at P2
    visits = [
        visit("2025-05-01", "1000000001"),
        visit("2025-06-01", "1000000002"),
        visit("2026-03-01", "2000000001", allowed="900.00"),
    ]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, visits)
    # THEN P1 wins on visits, with P2 the runner-up
    assert (found.practice_id, found.visits_counted, found.last_visit) == ("P1", 2, date(2025, 6, 1))
    assert found.runner_up is not None and (found.runner_up.key, found.runner_up.visits) == ("P2", 1)


def test_a_tie_in_visits_goes_to_the_most_recent_visit() -> None:
    # GIVEN one visit each at P1 (dearer) and at P2 (later)
    visits = [visit("2026-01-01", "1000000001", allowed="500.00"), visit("2026-02-01", "2000000001")]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, visits)
    # THEN P2 wins on the later visit
    assert (found.practice_id, found.last_visit) == ("P2", date(2026, 2, 1))


def test_a_tie_in_visits_and_dates_goes_to_the_most_allowed_dollars() -> None:
    # GIVEN one visit each at P1 and P2 on the same day, P2's dearer
    visits = [
        visit("2026-01-01", "1000000001", allowed="80.00"),
        visit("2026-01-01", "2000000001", allowed="80.01"),
    ]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, visits)
    # THEN P2 wins on allowed dollars
    assert found.practice_id == "P2"


def test_a_full_tie_goes_to_the_lower_practice_id_whatever_the_order() -> None:
    # GIVEN identical visits at P2 and P1
    visits = [visit("2026-01-01", "2000000001"), visit("2026-01-01", "1000000001")]
    # WHEN March is attributed, in either order
    # THEN P1 wins both times
    assert ATTRIBUTOR.attribute("2026-03", PPO, visits).practice_id == "P1"
    assert ATTRIBUTOR.attribute("2026-03", PPO, visits[::-1]).practice_id == "P1"


def test_the_provider_within_the_practice_is_chosen_the_same_way() -> None:
    # GIVEN three P1 visits: two with 1000000002, one later with 1000000001; and two P2 visits
    visits = [
        visit("2025-01-01", "1000000002"),
        visit("2025-02-01", "1000000002"),
        visit("2026-01-01", "1000000001"),
        visit("2026-02-01", "2000000001"),
        visit("2026-02-02", "2000000001"),
    ]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, visits)
    # THEN P1 wins with three visits, and its provider with the most visits
    assert (found.practice_id, found.provider_npi, found.visits_counted) == ("P1", "1000000002", 3)
    assert found.last_visit == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("npi", "code", "pos"),
    [
        ("2000000009", "99213", "11"),  # rendered by a provider who is not primary care
        ("5555555555", "99213", "11"),  # by a provider of no participating practice
        ("1000000001", "99281", "11"),  # an ED visit code, not primary care
        ("1000000001", "99213", "23"),  # in an emergency room
    ],
)
def test_a_visit_is_primary_care_only_by_provider_service_and_place(npi: str, code: str, pos: str) -> None:
    # GIVEN a member's only visit, failing one of the three tests
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, [visit("2026-01-05", npi, code, pos)])
    # THEN it is not counted and the member is unattributed
    assert (found.rule, found.practice_id, found.provider_npi) == (AttributionRule.UNATTRIBUTED, None, None)


@pytest.mark.parametrize("code", ["99203", "99396", "G0439", "99495"])
def test_the_primary_care_code_set_covers_visits_and_preventive_care(code: str) -> None:
    # GIVEN a visit with an office, preventive, wellness or transitional-care code at an office
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, [visit("2026-01-05", "1000000001", code)])
    # THEN it counts
    assert found.rule is AttributionRule.CLAIMS


@pytest.mark.parametrize(
    ("day", "counted"),
    [("2024-04-01", True), ("2024-03-31", False), ("2026-03-31", True), ("2026-04-01", False)],
)
def test_the_lookback_is_the_24_months_ending_with_the_month(day: str, counted: bool) -> None:
    # GIVEN one visit on a day at either edge of the lookback for March 2026 (April 2024 to March 2026)
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, [visit(day, "1000000001")])
    # THEN it counts only inside
    assert (found.rule is AttributionRule.CLAIMS) is counted


def test_two_lines_of_one_provider_on_one_day_are_one_visit() -> None:
    # GIVEN an office visit and a preventive visit billed by one P2 provider on one day, and two P1 days
    visits = [
        visit("2026-01-05", "2000000001", "99213", allowed="60.00"),
        visit("2026-01-05", "2000000001", "99396", allowed="150.00"),
        visit("2025-11-01", "1000000001", allowed="10.00"),
        visit("2025-12-01", "1000000001", allowed=None),
    ]
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, visits)
    # THEN P2 has one visit worth $210.00 and P1 wins with two
    assert (found.practice_id, found.visits_counted) == ("P1", 2)
    assert found.runner_up is not None and (found.runner_up.visits, str(found.runner_up.allowed_amount)) == (
        1,
        "210.00",
    )


def test_no_primary_care_visit_leaves_the_member_unattributed() -> None:
    # GIVEN a PPO member with no claims
    # WHEN March is attributed
    found = ATTRIBUTOR.attribute("2026-03", PPO, [])
    # THEN nobody gets the member
    assert (found.rule, found.visits_counted, found.last_visit, found.runner_up) == (
        AttributionRule.UNATTRIBUTED,
        0,
        None,
        None,
    )


def test_the_lookback_start_crosses_years() -> None:
    # GIVEN months early and late in a year
    # WHEN the 24-month lookback's start is taken
    # THEN it is the first day of the month 23 months before
    assert lookback_start("2026-01", 24) == date(2024, 2, 1)
    assert lookback_start("2026-12", 24) == date(2025, 1, 1)
    assert lookback_start("2026-03", 1) == date(2026, 3, 1)


_NPIS = [*sorted(PROVIDERS), "5555555555"]


@settings(deadline=None)  # each answer runs the table's polars code on one member (a few ms)
@given(
    st.lists(
        st.builds(
            lambda d, n, c, p, a: visit(d.isoformat(), n, c, p, str(a) + ".00"),
            st.dates(date(2024, 1, 1), date(2026, 5, 1)),
            st.sampled_from(_NPIS),
            st.sampled_from(["99213", "99396", "99281"]),
            st.sampled_from(["11", "23"]),
            st.integers(0, 300),
        ),
        max_size=15,
    ),
    st.randoms(use_true_random=False),
)
def test_the_answer_does_not_depend_on_the_order_of_the_claims(visits: list[Visit], rng: Any) -> None:
    # GIVEN any member's claim lines, and the same lines shuffled
    shuffled = list(visits)
    rng.shuffle(shuffled)
    # WHEN March is attributed from each
    first, second = (ATTRIBUTOR.attribute("2026-03", PPO, v) for v in (visits, shuffled))
    # THEN the answers are the same, and a claims answer names a provider of the practice it names
    assert first == second
    if first.rule is AttributionRule.CLAIMS:
        assert (
            first.provider_npi is not None and PROVIDERS[first.provider_npi].practice_id == first.practice_id
        )
        assert first.visits_counted >= (first.runner_up.visits if first.runner_up else 0)
