"""A practice's APC track per payer (issue 13 §1, §3): a clinics row that names a `payer_id` puts the practice
on a track with that payer, from `apc_track_start_date` if it gives one; a row without one is the practice's
own row and its track holds with every payer that names none. Kept across files, through intake."""

from __future__ import annotations

from datetime import date

from shared.intake import read_file, rejects_csv
from shared.models.files import FileKind
from shared.models.members import ApcPaymentTrack
from tests.unit.intake.factories import CANARY, csv_bytes, rows
from tests.unit.intake.service_fakes import Plan

C = FileKind.CLINICS
B = ApcPaymentTrack.BASIC_CAPITATION
INTERMEDIATE = ApcPaymentTrack.INTERMEDIATE_CAPITATION
NONE = ApcPaymentTrack.NONE
PLAN = "plan"
"""The deploying plan's id, as a run resolves a row or span that names no payer."""
DAY = date(2026, 3, 31)


def _row(**changes: str | None) -> dict[str, str | None]:
    return rows(C, 1, clinic_id="CL001", **changes)[0]


def test_a_practice_is_on_one_track_with_a_payer_and_on_its_own_with_every_other() -> None:
    # GIVEN CL001's own row on basic capitation and a row putting it on intermediate capitation with PLAN2
    plan = Plan()
    data = csv_bytes(
        C,
        [
            _row(apc_payment_track="basic_capitation"),
            _row(apc_payment_track="intermediate_capitation", payer_id="PLAN2"),
        ],
    )
    # WHEN the file is ingested
    outcome = plan.drop("landing/clinics/clinics-1.csv", data)
    clinic = plan.gaps.clinics()["CL001"]
    # THEN both rows are accepted into one clinic, on C with PLAN2 and on its own track B with the others
    assert (outcome.status, outcome.accepted, outcome.rejected) == ("ACCEPTED", 2, 0)
    assert clinic.apc_track_on("PLAN2", DAY) is INTERMEDIATE
    assert clinic.apc_track_on(PLAN, DAY) is B
    assert clinic.apc_track_on("PLAN3", DAY) is B
    assert clinic.apc_payment_track is B and clinic.in_apc_on(DAY)


def test_a_payers_later_row_keeps_the_other_tracks_and_the_clinic_and_dates_its_change() -> None:
    # GIVEN CL001 on B of its own and C with PLAN2, then a later file of PLAN2's alone moving it to B from
    # 1 July (with another name, which a payer's row does not change for a known clinic)
    plan = Plan()
    plan.drop(
        "landing/clinics/clinics-1.csv",
        csv_bytes(
            C,
            [
                _row(apc_payment_track="basic_capitation"),
                _row(apc_payment_track="intermediate_capitation", payer_id="PLAN2"),
            ],
        ),
    )
    later = _row(
        apc_payment_track="basic_capitation",
        apc_track_start_date="2026-07-01",
        clinic_name="Another Name",
        payer_id="PLAN2",
    )
    # WHEN the later file is ingested, then the practice's own row again, now FFS+
    plan.drop("landing/clinics/clinics-2.csv", csv_bytes(C, [later]))
    moved = plan.gaps.clinics()["CL001"]
    plan.drop("landing/clinics/clinics-3.csv", csv_bytes(C, [_row(apc_payment_track="ffs_plus")]))
    own = plan.gaps.clinics()["CL001"]
    # THEN PLAN2's track changes on 1 July and not before, the own track and the clinic's fields stay, and the
    # practice's own row later changes its own track only
    assert moved.apc_track_on("PLAN2", date(2026, 6, 30)) is INTERMEDIATE
    assert moved.apc_track_on("PLAN2", date(2026, 7, 1)) is B
    assert (moved.apc_track_on(PLAN, DAY), moved.clinic_name) == (B, "Harbor Family Clinic")
    assert own.apc_track_on(PLAN, DAY) is ApcPaymentTrack.FFS_PLUS
    assert own.apc_track_on("PLAN2", date(2026, 7, 1)) is B


def test_a_clinic_new_to_the_deployment_through_a_payers_row_is_on_no_track_with_the_others() -> None:
    # GIVEN a file of PLAN2's alone naming a clinic the deployment does not know
    plan = Plan()
    # WHEN it is ingested
    plan.drop(
        "landing/clinics/plan2.csv",
        csv_bytes(C, [_row(apc_payment_track="basic_capitation", payer_id="PLAN2")]),
    )
    clinic = plan.gaps.clinics()["CL001"]
    # THEN the clinic is known from the row, on B with PLAN2 and on no track with any other payer
    assert clinic.clinic_name == "Harbor Family Clinic"
    assert (clinic.apc_track_on("PLAN2", DAY), clinic.apc_track_on(PLAN, DAY)) == (B, NONE)
    assert clinic.apc_payment_track is NONE and clinic.in_apc_on(DAY)


def test_a_single_track_file_reads_as_before_and_a_later_one_replaces_its_track() -> None:
    # GIVEN an old clinics file (no payer, no start date) on C, then another on B
    plan = Plan()
    plan.drop("landing/clinics/old-1.csv", csv_bytes(C, [_row(apc_payment_track="intermediate_capitation")]))
    first = plan.gaps.clinics()["CL001"]
    plan.drop("landing/clinics/old-2.csv", csv_bytes(C, [_row(apc_payment_track="basic_capitation")]))
    second = plan.gaps.clinics()["CL001"]
    # WHEN its tracks are read
    # THEN the file's track holds with every payer, for every day, and the later file's replaces it whole
    assert {first.apc_track_on(p, d) for p in (PLAN, "PLAN2") for d in (date(2001, 1, 1), DAY)} == {
        INTERMEDIATE
    }
    assert {second.apc_track_on(p, d) for p in (PLAN, "PLAN2") for d in (date(2001, 1, 1), DAY)} == {B}


def test_a_payer_has_one_row_per_clinic_and_a_bad_start_date_is_charged_to_its_field() -> None:
    # GIVEN two different PLAN2 rows for CL001, its own row, and a row with an impossible start date
    data = csv_bytes(
        C,
        [
            _row(payer_id="PLAN2"),
            _row(payer_id="PLAN2", apc_payment_track="basic_capitation"),
            _row(),
            rows(C, 1, clinic_id="CL002", apc_track_start_date=CANARY)[0],
        ],
    )
    # WHEN the file is read
    result = read_file(data, kind=C, source_key="landing/clinics/f.csv", as_of=DAY)
    # THEN the two PLAN2 rows clash on the clinic's key, the date is charged to its field, the own row
    # stands, and the rejects report names row, field and reason, never the value
    assert sorted(result.rejects.rows()) == [
        (1, "clinic_id", "KEY_CONFLICT"),
        (2, "clinic_id", "KEY_CONFLICT"),
        (4, "apc_track_start_date", "INVALID_DATE"),
    ]
    assert result.manifest.accepted == 1
    assert CANARY.encode() not in rejects_csv(result)
