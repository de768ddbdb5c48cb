"""The month's attribution table equals `Attributor.attribute` member by member, and both equal the rules
written out plainly (`_by_the_words`, the seed's sentences as a loop); the roster's members for a month; the
allowed dollars of lines the table reads that a `Visit` cannot hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.attribution import Attributor, attribution_of, visit_lines
from shared.logic.attribution_table import MEMBER_SCHEMA, TABLE_SCHEMA, enrolled_members, lookback_start
from shared.logic.dates import month_end
from shared.models.apc import (
    Attribution,
    AttributionMember,
    PracticeTally,
    Product,
    ProviderRecord,
    Visit,
)
from shared.programs.apc import AttributionRules, load_apc

RULES = load_apc().latest().attribution
MONTH = "2026-03"
NPIS = ("1000000001", "1000000002", "2000000001", "2000000002", "3000000001", "3000000009")
UNKNOWN_NPI = "5555555555"
CODES = ("99213", "99396", "G0439", "99281", "80061")  # three primary care, an ED visit, a lab
PLACES = ("11", "02", "23", None)
# Few days and amounts, so ties in visits, dates and dollars are common.
DAYS = (
    date(2024, 3, 31),
    date(2024, 4, 1),
    date(2025, 6, 1),
    date(2025, 6, 2),
    date(2026, 3, 31),
    date(2026, 4, 1),
)
AMOUNTS = (None, Decimal("0.00"), Decimal("50.00"), Decimal("100.00"), Decimal("150.00"))


@dataclass
class _Tally:
    visits: int = 0
    last: date = date.min
    allowed: Decimal = Decimal(0)


def _best(tallies: dict[str, _Tally]) -> list[str]:
    return sorted(
        tallies, key=lambda k: (-tallies[k].visits, -tallies[k].last.toordinal(), -tallies[k].allowed, k)
    )


def _by_the_words(
    rules: AttributionRules,
    providers: dict[str, ProviderRecord],
    member: AttributionMember,
    visits: list[Visit],
) -> Attribution:
    """The common methodology as the seed and issue 13 say it, one member at a time, with no shared code."""
    nothing = {"visits_counted": 0, "last_visit": None, "allowed_amount": Decimal(0)}
    pcp = providers.get(member.pcp_npi or "")
    if pcp is not None and member.product in rules.selected_pcp_products:
        return Attribution(
            month=MONTH,
            practice_id=pcp.practice_id,
            provider_npi=member.pcp_npi,
            rule="selected_pcp",
            **nothing,
        )
    first, last = lookback_start(MONTH, 24), month_end(MONTH)
    days: dict[tuple[date, str], Decimal] = {}
    for v in visits:
        provider = providers.get(v.rendering_npi or "")
        if not (first <= v.date <= last and provider is not None and provider.primary_care):
            continue
        if v.place_of_service_code in rules.primary_care_places_of_service and v.hcpcs_code in (
            rules.primary_care_services
        ):
            key = (v.date, v.rendering_npi or "")
            days[key] = days.get(key, Decimal(0)) + (v.allowed_amount or Decimal(0))
    if not days:
        return Attribution(month=MONTH, practice_id=None, provider_npi=None, rule="unattributed", **nothing)
    practices: dict[str, _Tally] = {}
    for (day, npi), allowed in days.items():
        t = practices.setdefault(providers[npi].practice_id, _Tally())
        t.visits, t.last, t.allowed = t.visits + 1, max(t.last, day), t.allowed + allowed
    ranked = _best(practices)
    within: dict[str, _Tally] = {}
    for (day, npi), allowed in days.items():
        if providers[npi].practice_id == ranked[0]:
            t = within.setdefault(npi, _Tally())
            t.visits, t.last, t.allowed = t.visits + 1, max(t.last, day), t.allowed + allowed
    won = practices[ranked[0]]
    second = None
    if len(ranked) > 1:
        r = practices[ranked[1]]
        second = PracticeTally(key=ranked[1], visits=r.visits, last_visit=r.last, allowed_amount=r.allowed)
    return Attribution(
        month=MONTH,
        practice_id=ranked[0],
        provider_npi=_best(within)[0],
        rule="claims",
        visits_counted=won.visits,
        last_visit=won.last,
        allowed_amount=won.allowed,
        runner_up=second,
    )


_visits = st.lists(
    st.builds(
        Visit,
        date=st.sampled_from(DAYS),
        rendering_npi=st.sampled_from((*NPIS, UNKNOWN_NPI, None)),
        hcpcs_code=st.sampled_from(CODES),
        place_of_service_code=st.sampled_from(PLACES),
        allowed_amount=st.sampled_from(AMOUNTS),
    ),
    max_size=12,
)
_members = st.lists(
    st.tuples(
        st.builds(
            AttributionMember,
            product=st.sampled_from((*Product, None)),
            pcp_npi=st.sampled_from((*NPIS, UNKNOWN_NPI, None)),
        ),
        _visits,
    ),
    min_size=1,
    max_size=8,
)
_roster = st.fixed_dictionaries(
    {
        npi: st.builds(
            ProviderRecord, practice_id=st.sampled_from(("P1", "P2", "P3")), primary_care=st.booleans()
        )
        for npi in NPIS
    }
)


@settings(max_examples=100, deadline=None)
@given(_roster, _members)
def test_the_table_equals_attribute_member_by_member_and_the_rules_by_the_words(
    providers: dict[str, ProviderRecord], members: list[tuple[AttributionMember, list[Visit]]]
) -> None:
    # GIVEN a roster of providers over three practices and members with their claim lines, all in one table
    attributor = Attributor(RULES, providers)
    ids = [f"M{i:02d}" for i in range(len(members))]
    roster = pl.DataFrame(
        [
            (m, a.product.value if a.product else None, a.pcp_npi)
            for m, (a, _) in zip(ids, members, strict=True)
        ],
        schema=MEMBER_SCHEMA,
        orient="row",
    )
    lines = pl.concat([visit_lines(v, m) for m, (_, v) in zip(ids, members, strict=True)])
    # WHEN the month's table is built at once, and each member attributed on their own
    table = attributor.table(MONTH, roster, lines.sample(fraction=1.0, shuffle=True, seed=len(ids)))
    # THEN every member has one row, equal to the member's own answer and to the rules by the words
    assert table.schema == pl.Schema(TABLE_SCHEMA)
    assert table.get_column("member_id").to_list() == ids
    for row, (member, visits) in zip(table.iter_rows(named=True), members, strict=True):
        one = attributor.attribute(MONTH, member, visits)
        assert attribution_of(row) == one == _by_the_words(RULES, providers, member, visits)
        assert (row["product"], row["pcp_npi"]) == (
            member.product.value if member.product else None,
            member.pcp_npi,
        )


def test_a_negative_or_missing_allowed_amount_adds_nothing() -> None:
    # GIVEN a PPO member's two visits at P1 (one line of $-20.00, one of none) and one at P2 of $0.01
    attributor = Attributor(
        RULES, {n: ProviderRecord(practice_id=n[0], primary_care=True) for n in ("1", "2")}
    )
    lines = pl.DataFrame(
        [
            ("M", date(2026, 1, 5), "1", "99213", "11", Decimal("-20.00")),
            ("M", date(2026, 1, 6), "1", "99213", "11", None),
            ("M", date(2026, 1, 7), "2", "99213", "11", Decimal("0.01")),
            ("M", date(2026, 1, 8), "2", None, "11", Decimal("9.00")),  # a revenue-code line: no service code
        ],
        schema=visit_lines([]).schema,
        orient="row",
    )
    members = pl.DataFrame([("M", "commercial_ppo", None)], schema=MEMBER_SCHEMA, orient="row")
    # WHEN March is attributed
    row = attributor.table(MONTH, members, lines).row(0, named=True)
    # THEN P1 wins on two visits worth $0.00; P2's one visit is worth $0.01
    assert (row["practice_id"], row["visits_counted"], row["allowed_amount"]) == ("1", 2, Decimal("0.00"))
    assert (row["runner_up_practice_id"], row["runner_up_visits"], row["runner_up_allowed_amount"]) == (
        "2",
        1,
        Decimal("0.01"),
    )


def test_the_workings_list_visits_tallies_and_the_lines_that_did_not_count() -> None:
    # GIVEN two lines of one provider on one day at P1, a P2 visit, an ER line and an old visit
    providers = {
        "1000000001": ProviderRecord(practice_id="P1", primary_care=True),
        "2000000001": ProviderRecord(practice_id="P2", primary_care=True),
    }
    visits = [
        Visit(
            date=date(2026, 1, 5),
            rendering_npi="1000000001",
            hcpcs_code="99213",
            place_of_service_code="11",
            allowed_amount=Decimal("60"),
        ),
        Visit(
            date=date(2026, 1, 5),
            rendering_npi="1000000001",
            hcpcs_code="99396",
            place_of_service_code="11",
            allowed_amount=Decimal("150"),
        ),
        Visit(
            date=date(2025, 2, 1), rendering_npi="2000000001", hcpcs_code="99213", place_of_service_code="11"
        ),
        Visit(
            date=date(2025, 3, 1), rendering_npi="2000000001", hcpcs_code="99213", place_of_service_code="23"
        ),
        Visit(
            date=date(2025, 3, 2), rendering_npi="9999999999", hcpcs_code="99213", place_of_service_code="11"
        ),
        Visit(
            date=date(2025, 3, 3), rendering_npi="2000000001", hcpcs_code="80061", place_of_service_code="11"
        ),
        Visit(
            date=date(2023, 1, 1), rendering_npi="1000000001", hcpcs_code="99213", place_of_service_code="11"
        ),
    ]
    # WHEN March's workings are taken
    seen = Attributor(RULES, providers).workings(MONTH, visit_lines(visits))
    # THEN one P1 visit of two lines ($210), one P2 visit; P1 first on the later visit; three lines skipped
    assert (seen.lookback_first, seen.lookback_last, seen.lines_in_lookback) == (
        date(2024, 4, 1),
        date(2026, 3, 31),
        6,
    )
    assert [(v.practice_id, v.lines, v.allowed_amount) for v in seen.visits] == [
        ("P2", 1, Decimal(0)),
        ("P1", 2, Decimal("210")),
    ]
    assert [p.key for p in seen.practices] == ["P1", "P2"]
    assert [p.key for p in seen.providers] == ["1000000001"]
    assert seen.not_counted == {
        "place of service not in the primary-care set": 1,
        "not rendered by a primary-care provider of a participating practice": 1,
        "service code not in the primary-care code set": 1,
    }


def _span(
    member: str, start: date, end: date | None, clinic: str, product: str | None, pcp: str | None
) -> tuple:
    return (member, start, end, clinic, product, pcp)


SPAN_SCHEMA = {
    "member_id": pl.String,
    "enrollment_start_date": pl.Date,
    "enrollment_end_date": pl.Date,
    "assigned_clinic_id": pl.String,
    "product": pl.String,
    "pcp_npi": pl.String,
}


def test_the_members_of_a_month_take_the_span_of_its_last_covered_day() -> None:
    # GIVEN A, who moved mid-March (HMO to PPO); B, whose only span ended on 10 March; C, who left in
    # February; D, whose spans overlap at the month's end (the later-starting is the PPO); E, from April
    d = timedelta
    spans = pl.DataFrame(
        [
            _span("A", date(2025, 1, 1), date(2026, 3, 14), "K1", "commercial_hmo", "1"),
            _span("A", date(2026, 3, 15), None, "K2", "commercial_ppo", "2"),
            _span("B", date(2025, 1, 1), date(2026, 3, 10), "K1", "medi_cal", "3"),
            _span("C", date(2025, 1, 1), date(2026, 2, 28), "K1", "medi_cal", "4"),
            _span("D", date(2025, 1, 1), None, "K1", "commercial_hmo", "5"),
            _span("D", date(2026, 3, 1) + d(days=9), None, "K0", "commercial_ppo", "6"),
            _span("E", date(2026, 4, 1), None, "K1", "medi_cal", "7"),
        ],
        schema=SPAN_SCHEMA,
        orient="row",
    )
    # WHEN March's members are read
    members = enrolled_members(spans, MONTH)
    # THEN A is the PPO of 15 March on, B the Medi-Cal member to the 10th, D the later-starting PPO
    assert members.rows() == [
        ("A", "commercial_ppo", "2"),
        ("B", "medi_cal", "3"),
        ("D", "commercial_ppo", "6"),
    ]
