import logging
from datetime import date

import pytest

from shared.intake import read_file, rejects_csv
from shared.models.files import FileKind
from tests.unit.intake.factories import CANARY, csv_bytes, rows

AS_OF = date(2026, 6, 30)
C = FileKind.CLINICS
E = FileKind.ELIGIBILITY
MC = FileKind.MEDICAL_CLAIMS
RX = FileKind.PHARMACY_CLAIMS
IMM = FileKind.IMMUNIZATIONS
LAB = FileKind.LABS
ATT = FileKind.ATTESTATIONS
TA = FileKind.TA_ENGAGEMENT
PRV = FileKind.PROVIDERS

# (kind, changes to one row, field charged, reason)
RULES = [
    (C, {"clinic_id": None}, "clinic_id", "MISSING_REQUIRED"),
    (C, {"tin": "12345678"}, "tin", "INVALID_TIN"),
    (C, {"npi": CANARY}, "npi", "INVALID_NPI"),
    (C, {"npi": "12345678901"}, "npi", "INVALID_NPI"),
    (C, {"lines_of_business": "MC|XX"}, "lines_of_business", "NOT_ALLOWED"),
    (C, {"program": "other"}, "program", "NOT_ALLOWED"),
    (C, {"hpi_decile": "11"}, "hpi_decile", "OUT_OF_RANGE"),
    (C, {"hpi_decile": "four"}, "hpi_decile", "INVALID_INTEGER"),
    (C, {"program_enrollment_date": "2026-02-30"}, "program_enrollment_date", "INVALID_DATE"),
    (E, {"birth_date": "05/17/1960"}, "birth_date", "INVALID_DATE"),
    (E, {"birth_date": "2026-1-5"}, "birth_date", "INVALID_DATE"),
    (
        E,
        {"birth_date": "2027-01-01", "enrollment_start_date": "2027-02-01", "enrollment_end_date": None},
        "birth_date",
        "BIRTH_DATE_IN_FUTURE",
    ),
    (E, {"birth_date": "2026-03-01"}, "birth_date", "BIRTH_AFTER_ENROLLMENT"),
    (E, {"enrollment_end_date": "2025-12-31"}, "enrollment_end_date", "END_BEFORE_START"),
    (E, {"gender": CANARY}, "gender", "NOT_ALLOWED"),
    (E, {"pcp_npi": "123456789X"}, "pcp_npi", "INVALID_NPI"),
    (MC, {"claim_line_number": "0"}, "claim_line_number", "OUT_OF_RANGE"),
    (MC, {"claim_frequency_code": "7"}, "original_claim_id", "ORIGINAL_CLAIM_REQUIRED"),
    (MC, {"claim_frequency_code": "8"}, "original_claim_id", "ORIGINAL_CLAIM_REQUIRED"),
    (MC, {"claim_frequency_code": "2"}, "claim_frequency_code", "NOT_ALLOWED"),
    (MC, {"claim_end_date": "2026-02-01"}, "claim_end_date", "END_BEFORE_START"),
    (MC, {"hcpcs_code": "7706"}, "hcpcs_code", "INVALID_HCPCS"),
    (MC, {"hcpcs_code": "3074X"}, "hcpcs_code", "INVALID_HCPCS"),
    (MC, {"hcpcs_modifier_1": "2"}, "hcpcs_modifier_1", "INVALID_MODIFIER"),
    (MC, {"diagnosis_code_1": "Z12.31"}, "diagnosis_code_1", "INVALID_ICD10"),
    (MC, {"diagnosis_code_1": None}, "diagnosis_code_1", "MISSING_REQUIRED"),
    (MC, {"diagnosis_code_7": CANARY}, "diagnosis_code_7", "INVALID_ICD10"),
    (MC, {"place_of_service_code": "1"}, "place_of_service_code", "INVALID_POS"),
    (MC, {"rendering_tin": "12-3456789"}, "rendering_tin", "INVALID_TIN"),
    (MC, {"allowed_amount": "125.505"}, "allowed_amount", "INVALID_DECIMAL"),
    (MC, {"paid_amount": "1e3"}, "paid_amount", "INVALID_DECIMAL"),
    (MC, {"claim_type": "facility"}, "claim_type", "NOT_ALLOWED"),
    (MC, {"bill_type_code": "11"}, "bill_type_code", "INVALID_CODE"),
    (MC, {"bill_type_code": "11A"}, "bill_type_code", "INVALID_CODE"),
    (MC, {"bill_type_code": "01111"}, "bill_type_code", "TOO_LONG"),
    (MC, {"revenue_center_code": "450"}, "revenue_center_code", "INVALID_CODE"),
    (MC, {"discharge_disposition_code": "1"}, "discharge_disposition_code", "INVALID_CODE"),
    (MC, {"ms_drg_code": "94"}, "ms_drg_code", "INVALID_CODE"),
    (MC, {"ms_drg_code": "19A"}, "ms_drg_code", "INVALID_CODE"),
    (MC, {"admission_date": "2026-02-30"}, "admission_date", "INVALID_DATE"),
    (MC, {"admission_date": "1989-12-31"}, "admission_date", "OUT_OF_RANGE"),
    (MC, {"discharge_date": "2026-07-02"}, "discharge_date", "OUT_OF_RANGE"),
    (
        MC,
        {"admission_date": "2026-02-03", "discharge_date": "2026-02-01"},
        "discharge_date",
        "END_BEFORE_START",
    ),
    (MC, {"hcpcs_code": None, "claim_type": "professional"}, "hcpcs_code", "MISSING_REQUIRED"),
    (
        MC,
        {"hcpcs_code": None, "claim_type": "professional", "revenue_center_code": "0120"},
        "hcpcs_code",
        "MISSING_REQUIRED",
    ),
    (MC, {"hcpcs_code": None, "claim_type": "institutional"}, "hcpcs_code", "MISSING_REQUIRED"),
    (MC, {"payer_id": "plan/b"}, "payer_id", "INVALID_ID"),
    (E, {"product": "medicaid"}, "product", "NOT_ALLOWED"),
    (E, {"payer_id": "-plan"}, "payer_id", "INVALID_ID"),
    (RX, {"ndc_code": "0093-5056-98"}, "ndc_code", "INVALID_NDC"),
    (RX, {"claim_status": "adjusted"}, "claim_status", "NOT_ALLOWED"),
    (RX, {"days_supply": "0"}, "days_supply", "OUT_OF_RANGE"),
    (RX, {"quantity": "-1"}, "quantity", "INVALID_DECIMAL"),
    (RX, {"prescriber_npi": None}, "prescriber_npi", "MISSING_REQUIRED"),
    (IMM, {"cvx_code": "1410"}, "cvx_code", "INVALID_CVX"),
    (IMM, {"source": "rumour"}, "source", "NOT_ALLOWED"),
    (IMM, {"immunization_date": "2026-07-01"}, "immunization_date", "OUT_OF_RANGE"),
    (LAB, {"loinc_code": "45484"}, "loinc_code", "INVALID_LOINC"),
    (LAB, {"result_value": CANARY}, "result_value", "NOT_NUMERIC"),
    (ATT, {"step": "dance"}, "step", "NOT_ALLOWED"),
    (ATT, {"action_code": "bcs e"}, "action_code", "INVALID_FORMAT"),
    (ATT, {"result_code": "3074"}, "result_code", "INVALID_HCPCS"),
    (TA, {"activity": "golf"}, "activity", "NOT_ALLOWED"),
    (TA, {"status": None}, "status", "MISSING_REQUIRED"),
    (PRV, {"npi": "1234567890"}, "npi", "INVALID_NPI"),
    (PRV, {"npi": "1234567839"}, "npi", "INVALID_NPI"),
    (PRV, {"npi": "123456789"}, "npi", "INVALID_NPI"),
    (PRV, {"npi": None}, "npi", "MISSING_REQUIRED"),
    (PRV, {"practice_id": None}, "practice_id", "MISSING_REQUIRED"),
    (PRV, {"taxonomy_code": "207Q00000"}, "taxonomy_code", "INVALID_CODE"),
    (PRV, {"specialty": "Family\x01Medicine"}, "specialty", "INVALID_TEXT"),
    (PRV, {"primary_care": "Y"}, "primary_care", "NOT_ALLOWED"),
    (PRV, {"primary_care": None}, "primary_care", "MISSING_REQUIRED"),
    (PRV, {"effective_date": None}, "effective_date", "MISSING_REQUIRED"),
    (PRV, {"termination_date": "2024-12-31"}, "termination_date", "END_BEFORE_START"),
    (PRV, {"termination_date": "2031-01-01"}, "termination_date", "OUT_OF_RANGE"),
]


@pytest.mark.parametrize(
    ("kind", "changes", "field", "reason"), RULES, ids=[f"{k}-{f}-{r}" for k, _, f, r in RULES]
)
def test_each_rule_rejects_its_row_with_field_and_reason(
    kind: FileKind, changes: dict[str, str | None], field: str, reason: str
) -> None:
    # GIVEN three valid rows and a fourth that breaks one rule
    data = csv_bytes(kind, [*rows(kind, 3), *rows(kind, 1, **changes)[:1]])
    # WHEN the file is read
    result = read_file(data, kind=kind, source_key=f"landing/{kind}/f.csv", as_of=AS_OF)
    # THEN row 4 alone is rejected, charged to that field and reason, and not accepted
    assert result.rejects.rows() == [(4, field, reason)]
    assert result.manifest.accepted == 3
    assert result.manifest.rejected == 1
    assert 4 not in result.accepted.get_column("source_row").to_list()


def test_a_row_with_several_bad_fields_gets_one_line_per_field() -> None:
    # GIVEN a claim line with a bad NPI, bad diagnosis, dates reversed and a bad amount
    bad = rows(
        MC,
        1,
        rendering_npi=CANARY,
        diagnosis_code_1=CANARY,
        claim_end_date="2026-01-01",
        allowed_amount=CANARY,
    )
    data = csv_bytes(MC, bad)
    # WHEN it is read
    result = read_file(data, kind=MC, source_key="landing/medical_claims/f.csv")
    # THEN each bad field has exactly one line and the row counts once as rejected
    assert sorted(result.rejects.rows()) == [
        (1, "allowed_amount", "INVALID_DECIMAL"),
        (1, "claim_end_date", "END_BEFORE_START"),
        (1, "diagnosis_code_1", "INVALID_ICD10"),
        (1, "rendering_npi", "INVALID_NPI"),
    ]
    assert (result.manifest.rejected, result.manifest.accepted) == (1, 0)


def test_a_field_that_fails_its_own_check_is_not_charged_again_by_a_cross_rule() -> None:
    # GIVEN an eligibility row whose end date is not a date at all
    data = csv_bytes(E, rows(E, 1, enrollment_end_date="tomorrow"))
    # WHEN it is read
    result = read_file(data, kind=E, source_key="landing/eligibility/f.csv", as_of=AS_OF)
    # THEN the end date is charged once, as not a date
    assert result.rejects.rows() == [(1, "enrollment_end_date", "INVALID_DATE")]


def test_reject_reports_logs_and_frames_never_carry_the_bad_value(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a file with a recognisable fake value in several bad fields
    data = csv_bytes(E, rows(E, 2, member_id=None, pcp_npi=CANARY, gender=CANARY, birth_date=CANARY))
    # WHEN it is read and its rejects report produced, with every log record captured
    caplog.set_level(logging.DEBUG)
    result = read_file(data, kind=E, source_key="landing/eligibility/f.csv", as_of=AS_OF)
    report = rejects_csv(result)
    # THEN the report names row, field and reason only, and neither it nor the log shows the value
    assert report.splitlines()[0] == b"source_row,field,reason_code"
    assert CANARY.encode() not in report
    assert CANARY not in str(result.rejects.rows())
    assert result.rejects.columns == ["source_row", "field", "reason_code"]
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err + caplog.text
