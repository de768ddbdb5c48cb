"""APC Element 3 per payer (docs/apc-incentive.md, "Plans paying together"): who is in APC for the year,
whose a member-month is, and which of a practice's member months each payer pays."""

from __future__ import annotations

from datetime import date

from shared.models.actions import LineOfBusiness, Sex, Track
from shared.models.members import (
    ApcPaymentTrack,
    Clinic,
    EligibilitySpan,
    MemberFacts,
    MemberProfile,
    PayerTrack,
)
from shared.services.kinds.annual_apc import ApcCounter, apc_practices, merge_payer_months, month_payer
from tests.unit.care_gap.factories import PROGRAM as CARE_GAP
from tests.unit.measures.builders import APC, YEAR

FFS = ApcPaymentTrack.FFS_PLUS
NONE = ApcPaymentTrack.NONE


def _clinic(clinic_id: str, *tracks: PayerTrack) -> Clinic:
    own = next((t.track for t in tracks if t.payer_id is None), NONE)
    return Clinic(
        clinic_id=clinic_id,
        tin="111111111",
        npi="1234567893",
        clinic_name="A practice",
        lines_of_business=(LineOfBusiness.MC,),
        program="care_gap",
        program_enrollment_date=date(2025, 1, 1),
        track=Track.FAMILY_ADULT,
        apc_payment_track=own,
        apc_tracks=tracks,
    )


def _span(start: date, end: date | None, payer: str | None, clinic_id: str = "P1") -> EligibilitySpan:
    return EligibilitySpan(
        member_id="M1",
        start=start,
        end=end,
        line_of_business=LineOfBusiness.MC,
        clinic_id=clinic_id,
        payer_id=payer,
    )


def _member(*spans: EligibilitySpan) -> MemberFacts:
    profile = MemberProfile(member_id="M1", birth_date=date(1970, 1, 1), gender=Sex.F, clinic_id="P1")
    return MemberFacts(profile=profile, spans=spans)


def test_a_practice_on_a_track_only_with_another_payer_is_in_apc_for_the_year() -> None:
    # GIVEN P1 on no track of its own but on FFS+ with PLAN2, P2 on none at all, P3 on FFS+ of its own
    p1 = _clinic("P1", PayerTrack(payer_id=None, track=NONE), PayerTrack(payer_id="PLAN2", track=FFS))
    p2 = _clinic("P2", PayerTrack(payer_id=None, track=NONE))
    p3 = _clinic("P3", PayerTrack(payer_id=None, track=FFS))
    # WHEN the year's APC practices are chosen
    found = apc_practices([p1, p2, p3], YEAR)
    # THEN P1 (through PLAN2) and P3 are; without a year only P3's own track counts, as before payers
    assert set(found) == {"P1", "P3"}
    assert set(apc_practices([p1, p2, p3])) == {"P3"}


def test_a_member_month_is_the_payer_of_the_later_span_at_the_practice() -> None:
    # GIVEN the plan's span at P1 to 10 March, PLAN2's from 11 March, and PLAN3's at P2 all year
    spans = (
        _span(date(2025, 1, 1), date(2026, 3, 10), None),
        _span(date(2026, 3, 11), None, "PLAN2"),
        _span(date(2025, 1, 1), None, "PLAN3", clinic_id="P2"),
    )
    # WHEN each month's payer at P1 is read
    # THEN February is the plan's, March (both spans) PLAN2's, the later span; P2's span changes nothing
    assert [month_payer(spans, "P1", m, "plan") for m in ("2026-02", "2026-03", "2026-04")] == [
        "plan",
        "PLAN2",
        "PLAN2",
    ]


def test_each_payer_pays_only_the_months_the_practice_is_on_a_track_with_it() -> None:
    # GIVEN P1 on FFS+ with the plan all year and with PLAN2 from 1 July only; the member is the plan's from
    # January to April and PLAN2's from May
    p1 = _clinic(
        "P1",
        PayerTrack(payer_id=None, track=NONE),
        PayerTrack(payer_id="plan", track=FFS),
        PayerTrack(payer_id="PLAN2", track=NONE),
        PayerTrack(payer_id="PLAN2", track=FFS, start=date(2026, 7, 1)),
    )
    facts = _member(_span(date(2025, 1, 1), date(2026, 4, 30), None), _span(date(2026, 5, 1), None, "PLAN2"))
    counter = ApcCounter(APC, CARE_GAP, YEAR, payer="plan")
    # WHEN the shard counts the member
    counter.add(facts, {"P1": p1})
    # THEN the score counts all 12 months, the plan pays its 4 and PLAN2 the 6 from July
    assert [(p.clinic_id, p.member_months) for p in counter.panels()] == [("P1", 12)]
    assert counter.payer_months() == {"P1": {"PLAN2": 6, "plan": 4}}
    # AND shards' months add up per practice and payer
    assert merge_payer_months([counter.payer_months(), {"P1": {"plan": 1}}]) == {
        "P1": {"PLAN2": 6, "plan": 5}
    }
