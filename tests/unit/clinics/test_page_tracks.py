"""A clinic page's program line names the practice's APC track with each payer."""

from __future__ import annotations

from datetime import date

from shared.models.actions import LineOfBusiness, Track
from shared.models.members import ApcPaymentTrack, Clinic, PayerTrack
from shared.services.pages import _apc_tracks, _program_line

PLAN = "PLAN_ID"
DAY = date(2026, 12, 31)


def practice(*tracks: PayerTrack, own: ApcPaymentTrack = ApcPaymentTrack.NONE) -> Clinic:
    return Clinic(
        clinic_id="K1",
        tin="123456789",
        npi="1234567893",
        clinic_name="Family Health",
        lines_of_business=(LineOfBusiness("MC"),),
        program="care_gap",
        program_enrollment_date=date(2026, 1, 1),
        track=Track.FAMILY_ADULT,
        apc_payment_track=own,
        apc_tracks=tracks,
    )


def test_a_practice_on_one_track_with_every_payer_shows_it_once() -> None:
    # GIVEN a practice whose own clinics row puts it on basic capitation (with every payer)
    clinic = practice(PayerTrack(payer_id=None, track=ApcPaymentTrack.BASIC_CAPITATION))
    # THEN its page's line names the track once
    assert _apc_tracks(clinic, DAY, PLAN) == ["basic capitation"]
    assert "APC track: basic capitation." in _program_line(clinic, DAY, PLAN)


def test_a_practice_on_other_tracks_with_other_payers_shows_each_payers() -> None:
    # GIVEN a practice on intermediate capitation with the plan (its own row) and basic with PLAN2 from July
    clinic = practice(
        PayerTrack(payer_id=None, track=ApcPaymentTrack.INTERMEDIATE_CAPITATION),
        PayerTrack(payer_id="PLAN2", track=ApcPaymentTrack.BASIC_CAPITATION, start=date(2026, 7, 1)),
    )
    # THEN after July each payer's track is named, and before it the one track
    assert _apc_tracks(clinic, DAY, PLAN) == [
        "basic capitation with PLAN2",
        "intermediate capitation with PLAN_ID",
    ]
    assert _apc_tracks(clinic, date(2026, 6, 30), PLAN) == ["intermediate capitation"]


def test_a_practice_in_apc_only_with_a_second_payer_is_shown_so() -> None:
    # GIVEN a practice on no track of its own, on FFS+ with PLAN2
    clinic = practice(
        PayerTrack(payer_id=None, track=ApcPaymentTrack.NONE),
        PayerTrack(payer_id="PLAN2", track=ApcPaymentTrack.FFS_PLUS),
    )
    # THEN the page names PLAN2's track only; a practice on no track with anyone shows none
    assert _apc_tracks(clinic, DAY, PLAN) == ["ffs plus with PLAN2"]
    assert "APC track" not in _program_line(practice(), DAY, PLAN)
