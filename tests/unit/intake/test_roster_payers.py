"""A roster's product and payer reach the member profile and spans, so a member-month's product and payer
can be read (issue 13 §1)."""

from __future__ import annotations

from datetime import date

from shared.intake import read_file
from shared.logic.eligibility import month_coverage
from shared.logic.roster import roster_from_rows
from shared.models.actions import LineOfBusiness
from shared.models.files import FileKind
from shared.models.members import EligibilitySpan, MemberProfile
from shared.models.settings import Plan
from tests.unit.intake.factories import csv_bytes, rows

E = FileKind.ELIGIBILITY
PLAN = Plan().plan_id


def _roster() -> tuple[list[MemberProfile], list[EligibilitySpan]]:
    # M1 is Medi-Cal with the deploying plan until 15 March, then commercial HMO with another payer;
    # M2's roster names neither product nor payer.
    data = [
        *rows(
            E,
            1,
            member_id="M1",
            product="medi_cal",
            enrollment_start_date="2026-01-01",
            enrollment_end_date="2026-03-15",
        ),
        *rows(
            E,
            1,
            member_id="M1",
            product="commercial_hmo",
            payer_id="health_net",
            line_of_business="COMM",
            assigned_clinic_id="CL002",
            enrollment_start_date="2026-03-16",
            enrollment_end_date=None,
        ),
        *rows(E, 1, member_id="M2", enrollment_end_date=None),
    ]
    accepted = read_file(
        csv_bytes(E, data), kind=E, source_key="landing/eligibility/r.csv", as_of=date(2026, 6, 30)
    ).accepted
    return roster_from_rows(accepted)


def test_spans_and_profiles_carry_the_rosters_product_and_payer() -> None:
    # GIVEN a roster read through intake
    # WHEN profiles and spans are derived from its accepted rows
    profiles, spans = _roster()
    by_member = {p.member_id: p for p in profiles}
    # THEN each span keeps its product and payer (None where the roster names none), and the profile
    # takes the latest span's
    assert [
        (s.member_id, s.product, s.payer_id) for s in sorted(spans, key=lambda s: (s.member_id, s.start))
    ] == [
        ("M1", "medi_cal", None),
        ("M1", "commercial_hmo", "health_net"),
        ("M2", None, None),
    ]
    assert (by_member["M1"].product, by_member["M1"].payer_id, by_member["M1"].clinic_id) == (
        "commercial_hmo",
        "health_net",
        "CL002",
    )
    assert (by_member["M2"].product, by_member["M2"].payer_id) == (None, None)


def test_a_member_month_names_its_product_and_payer_the_deploying_plan_by_default() -> None:
    # GIVEN M1's spans: Medi-Cal with the deploying plan, then commercial HMO with health_net from 16 March
    _, spans = _roster()
    m1 = [s for s in spans if s.member_id == "M1"]
    # WHEN its member-months are read with the deploying plan's id
    february = month_coverage(m1, "2026-02", plan_payer=PLAN)
    march = month_coverage(m1, "2026-03", plan_payer=PLAN)
    april = month_coverage(m1, "2026-04", plan_payer=PLAN)
    # THEN February is the plan's Medi-Cal month, March has both coverages in start order, April the HMO's
    assert [(c.product, c.payer_id, c.clinic_id) for c in february] == [("medi_cal", PLAN, "CL001")]
    assert [(c.product, c.payer_id) for c in march] == [("medi_cal", PLAN), ("commercial_hmo", "health_net")]
    assert [(c.product, c.payer_id, c.line_of_business) for c in april] == [
        ("commercial_hmo", "health_net", LineOfBusiness.COMM)
    ]
    assert month_coverage(m1, "2025-12", plan_payer=PLAN) == ()
    assert m1[0].payer("another_plan") == "another_plan" and m1[1].payer("another_plan") == "health_net"
