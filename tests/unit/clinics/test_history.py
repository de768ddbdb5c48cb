"""A clinic's program history: Benchmark until it joins Care Gap, kept across clinics files."""

from __future__ import annotations

from datetime import date

from shared.logic.clinics import merge_clinic
from shared.models.members import ApcPaymentTrack, Clinic, PracticeType

BASE = {
    "clinic_id": "K1",
    "tin": "111111111",
    "npi": "1234567893",
    "clinic_name": "Harbor",
    "lines_of_business": ("MC",),
    "track": "family_adult",
}


def clinic(program: str, enrolled: date, **more: object) -> Clinic:
    return Clinic.model_validate(BASE | {"program": program, "program_enrollment_date": enrolled} | more)


def stretches(c: Clinic) -> list[tuple[str, date, date | None]]:
    return [(e.program, e.start, e.end) for e in c.enrollments]


def test_a_care_gap_clinic_was_in_benchmark_until_the_day_before_it_joined():
    # GIVEN a clinics row enrolling K1 in Care Gap on 1 May 2026
    k1 = clinic("care_gap", date(2026, 5, 1))
    # WHEN its history is read
    # THEN it was in Benchmark through 30 April, is in Care Gap from 1 May, and Benchmark does not pay it
    # for 2026 (joining Care Gap opts it out for the rest of the year) but did for 2025
    assert stretches(k1) == [
        ("benchmark", date(2000, 1, 1), date(2026, 4, 30)),
        ("care_gap", date(2026, 5, 1), None),
    ]
    assert not k1.in_care_gap_on(date(2026, 4, 30)) and k1.in_care_gap_on(date(2026, 5, 1))
    assert not k1.in_benchmark_for(2026) and k1.in_benchmark_for(2025)
    assert k1.care_gap_start(2026) == date(2026, 5, 1) and k1.care_gap_start(2025) is None


def test_history_is_kept_across_files_a_corrected_date_moves_the_stretch_and_a_switch_appends_one():
    # GIVEN K1 in Benchmark from 2025, then a file enrolling it in Care Gap on 1 May 2026
    known = merge_clinic(None, clinic("benchmark", date(2025, 1, 1)))
    joined = merge_clinic(known, clinic("care_gap", date(2026, 5, 1)))
    # WHEN a later file corrects the date to 1 April, and a file in 2027 puts it back in Benchmark
    corrected = merge_clinic(joined, clinic("care_gap", date(2026, 4, 1)))
    back = merge_clinic(corrected, clinic("benchmark", date(2027, 1, 1), hpi_decile=3))
    # THEN each stretch ends the day before the next begins, and the latest row's details are kept
    assert stretches(joined) == [
        ("benchmark", date(2025, 1, 1), date(2026, 4, 30)),
        ("care_gap", date(2026, 5, 1), None),
    ]
    assert stretches(corrected)[0][2] == date(2026, 3, 31) and stretches(corrected)[1][1] == date(2026, 4, 1)
    assert stretches(back)[-2:] == [
        ("care_gap", date(2026, 4, 1), date(2026, 12, 31)),
        ("benchmark", date(2027, 1, 1), None),
    ]
    assert back.hpi_decile == 3 and back.in_benchmark_for(2027) and not back.in_benchmark_for(2026)


def test_the_apc_fields_are_carried_and_validated():
    # GIVEN a row with the APC fields
    k1 = clinic("care_gap", date(2026, 1, 1), practice_type="pediatric", apc_payment_track="basic_capitation")
    # WHEN / THEN they reach the model as their enums
    assert k1.practice_type is PracticeType.PEDIATRIC
    assert k1.apc_payment_track is ApcPaymentTrack.BASIC_CAPITATION
