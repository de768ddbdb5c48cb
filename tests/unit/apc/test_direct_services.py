"""APC Element 1: a claim line's code is capitated or fee-for-service by the seed's tables 1 and 2 for the
practice's track."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from shared.logic.direct_services import NO_CODE, classify_service, direct_services_report
from shared.models.members import ApcPaymentTrack, Clinic, PayerTrack
from shared.programs.apc import load_apc

SERVICES = load_apc().latest().direct_services
B, C = ApcPaymentTrack.BASIC_CAPITATION, ApcPaymentTrack.INTERMEDIATE_CAPITATION
PLAN = "plan"


def _practice(clinic_id: str, track: ApcPaymentTrack, **payers: ApcPaymentTrack) -> Clinic:
    """A practice on `track` of its own and on each of `payers`' tracks (payer id: track) since always."""
    return Clinic(
        clinic_id=clinic_id,
        tin="222222222",
        npi="1234567893",
        clinic_name="Bayside",
        lines_of_business=("MC",),
        program="care_gap",
        program_enrollment_date=date(2025, 1, 1),
        track="family_adult",
        apc_payment_track=track,
        apc_tracks=(
            PayerTrack(payer_id=None, track=track),
            *(PayerTrack(payer_id=p, track=t) for p, t in payers.items()),
        ),
    )


@pytest.mark.parametrize(
    ("code", "capitated", "listed_as"),
    [
        ("99213", True, None),  # E&M 992xx
        ("99497", True, None),  # other E&M 99300-99499 (advance care planning)
        ("99396", False, "Annual well visits"),  # 99391-99397, carved out of other E&M
        ("99385", False, "Annual well visits"),
        ("99344", False, "Home visits"),
        ("99310", False, "Skilled nursing facility (SNF)"),
        ("90686", False, "Immunizations"),  # 90281-90756
        ("G0009", False, "Immunizations"),  # G0008-G0010
        ("36415", False, None),  # all other direct, billable services
        ("J0696", False, None),  # drugs are only capitated on track C
    ],
)
def test_track_b_capitates_e_and_m_only(code: str, capitated: bool, listed_as: str | None) -> None:
    # GIVEN a practice on basic capitation (table 1)
    # WHEN a line's code is classified
    found = classify_service(SERVICES, B, code)
    # THEN E&M is capitated, the listed services and everything else fee-for-service
    assert (found.capitated, found.fee_for_service) == (capitated, listed_as)


@pytest.mark.parametrize(
    ("code", "capitated", "row"),
    [
        ("99214", True, "E&M"),
        ("99396", True, "Other E&M"),  # well visits are capitated on track C (table 2: "None")
        ("99344", False, "Other E&M"),  # home visits stay fee-for-service, though 90757-99756 covers them
        ("96372", True, "Medicine services, HCPCS S and Q codes"),
        ("93306", False, "Medicine services, HCPCS S and Q codes"),  # echocardiogram
        ("96365", False, "Medicine services, HCPCS S and Q codes"),  # IV infusion
        ("S9083", True, "Medicine services, HCPCS S and Q codes"),
        ("S0199", False, "Medicine services, HCPCS S and Q codes"),  # abortion
        ("Q0091", False, "Medicine services, HCPCS S and Q codes"),  # pap smear
        ("Q2035", False, "Medicine services, HCPCS S and Q codes"),  # flu vaccine
        ("G0439", True, "Temporary HCPCS G and C codes"),
        ("G2023", False, "Temporary HCPCS G and C codes"),  # COVID testing
        ("J1885", True, "Drugs, non-oral and chemo (HCPCS J codes)"),
        ("J0696", False, "Drugs, non-oral and chemo (HCPCS J codes)"),  # ceftriaxone
        ("J9035", False, "Drugs, non-oral and chemo (HCPCS J codes)"),  # chemo
        ("0501T", True, "Category III codes (ending in T)"),
        ("90686", False, None),  # immunizations are below the medicine range
        ("87635", False, None),  # laboratory: all other services
    ],
)
def test_track_c_adds_medicine_hcpcs_drugs_and_category_iii(
    code: str, capitated: bool, row: str | None
) -> None:
    # GIVEN a practice on intermediate capitation (table 2)
    # WHEN a line's code is classified
    found = classify_service(SERVICES, C, code)
    # THEN the row covering it capitates it unless one of the track's exceptions lists it
    assert (found.capitated, found.row) == (capitated, row)


@pytest.mark.parametrize("track", [ApcPaymentTrack.FFS_PLUS, ApcPaymentTrack.NONE])
def test_ffs_plus_and_no_track_pay_everything_fee_for_service(track: ApcPaymentTrack) -> None:
    # GIVEN a practice on FFS+ or on no APC track
    # WHEN an E&M line is classified
    found = classify_service(SERVICES, track, "99213")
    # THEN it is fee-for-service
    assert not found.capitated


def test_a_code_is_read_in_capitals() -> None:
    # GIVEN a J code written in lower case
    # WHEN it is classified on track C
    # THEN it is the J code
    assert classify_service(SERVICES, C, " j1885").capitated


def test_the_report_counts_each_practices_lines_and_dollars_by_its_tracks_classification():
    # GIVEN a track B practice's month: an office visit, a well visit, a flu shot, a room line with no code,
    # and a line of a practice on no APC track
    lines = pl.DataFrame(
        {
            "practice_id": ["K2", "K2", "K2", "K2", "K2", "K9"],
            "month": ["2026-01"] * 6,
            "hcpcs_code": ["99213", "99214", "99393", "90686", None, "99213"],
            "allowed_amount": ["100.00", "120.00", "150.00", "20.00", "500.00", "1.00"],
        }
    ).with_columns(pl.col("allowed_amount").cast(pl.Decimal(18, 2)))
    # WHEN the report is made
    report = direct_services_report(lines, {"K2": _practice("K2", B)}, SERVICES, plan_payer=PLAN)
    # THEN E&M is capitated and the well visit, the immunization and the room line are fee-for-service, each
    # with its lines and dollars; K9 is not in it
    found = {(r["payment"], r["category"]): (r["lines"], str(r["allowed_amount"])) for r in report.to_dicts()}
    assert found == {
        ("capitated", "E&M"): (2, "220.00"),
        ("fee_for_service", "Annual well visits"): (1, "150.00"),
        ("fee_for_service", "Immunizations"): (1, "20.00"),
        ("fee_for_service", NO_CODE): (1, "500.00"),
    }
    assert set(report.get_column("practice_id")) == {"K2"}


def test_each_line_is_classified_under_the_track_the_practice_has_with_the_claims_payer():
    # GIVEN K2 on track C with the deploying plan and on track B with PLAN2, and in January a well visit and
    # an office visit paid by each (the plan's lines name no payer)
    lines = pl.DataFrame(
        {
            "practice_id": ["K2"] * 4,
            "payer_id": [None, None, "PLAN2", "PLAN2"],
            "month": ["2026-01"] * 4,
            "hcpcs_code": ["99393", "99213", "99393", "99213"],
            "allowed_amount": ["150.00", "100.00", "140.00", "90.00"],
        }
    ).with_columns(pl.col("allowed_amount").cast(pl.Decimal(18, 2)))
    practices = {"K2": _practice("K2", C, PLAN2=B)}
    # WHEN the report is made
    report = direct_services_report(lines, practices, SERVICES, plan_payer=PLAN)
    # THEN each payer's lines are a row of their own under its track: the well visit is capitated on C and
    # fee-for-service on B, the office visit capitated on both
    found = {
        (r["payer_id"], r["track"], r["payment"], r["category"]): (r["lines"], str(r["allowed_amount"]))
        for r in report.to_dicts()
    }
    assert found == {
        (PLAN, "intermediate_capitation", "capitated", "E&M"): (1, "100.00"),
        (PLAN, "intermediate_capitation", "capitated", "Other E&M"): (1, "150.00"),
        ("PLAN2", "basic_capitation", "capitated", "E&M"): (1, "90.00"),
        ("PLAN2", "basic_capitation", "fee_for_service", "Annual well visits"): (1, "140.00"),
    }
