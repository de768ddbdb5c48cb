"""One schema per file kind, as data. `docs/file-specs.md` is the human-readable copy of this file."""

from __future__ import annotations

import polars as pl

from shared.intake.schema import (
    ACTION_CODE,
    CVX,
    HCPCS,
    ICD10CM,
    LOINC,
    MODIFIER,
    NDC11,
    NPI,
    POS,
    TIN,
    CodeFormat,
    Column,
    ColumnType,
    CrossRule,
    KindSchema,
    Reason,
)
from shared.models.files import FileKind

AS_OF = "__as_of"
"""Validation adds this literal date column (the run's today) so rules stay plain expressions."""

DATE = ColumnType.DATE
INTEGER = ColumnType.INTEGER
MONEY = ColumnType.MONEY
QUANTITY = ColumnType.QUANTITY
LINES_OF_BUSINESS = frozenset({"CA", "MC", "HW", "COMM"})
ATTESTATION_STEPS = frozenset(
    {"schedule", "perform", "claim", "initial_dose", "final_dose", "prescribe", "dispense", "assess"}
)
LOB_LIST = CodeFormat(r"^(CA|MC|HW|COMM)(\|(CA|MC|HW|COMM))*$", Reason.NOT_ALLOWED)
NUMERIC_LOINC = frozenset({"8480-6", "8462-4", "4548-4", "17856-6"})
"""Systolic BP, diastolic BP, HbA1c (two methods): their results must be numbers."""


def _ends_before_starts(start: str, end: str) -> pl.Expr:
    return (pl.col(end) < pl.col(start)).fill_null(False)


CLINICS = KindSchema(
    columns=(
        Column("clinic_id", required=True),
        Column("tin", required=True, code=TIN),
        Column("npi", required=True, code=NPI),
        Column("clinic_name", required=True),
        Column("lines_of_business", required=True, code=LOB_LIST),
        Column("program", required=True, allowed=frozenset({"care_gap", "benchmark"})),
        Column("program_enrollment_date", DATE, required=True),
        Column("track", required=True, allowed=frozenset({"family_adult", "pediatric"})),
        Column("practice_type", required=True, allowed=frozenset({"adult", "pediatric", "mixed"})),
        Column(
            "apc_payment_track",
            required=True,
            allowed=frozenset({"ffs_plus", "basic_capitation", "intermediate_capitation", "none"}),
        ),
        Column("hpi_decile", INTEGER, minimum=1, maximum=10),
        Column("address_line"),
        Column("city"),
        Column("state"),
        Column("zip_code"),
    ),
    natural_key=("clinic_id",),
    period_column=None,
)

ELIGIBILITY = KindSchema(
    columns=(
        Column("member_id", required=True),
        Column("birth_date", DATE, required=True),
        Column("gender", required=True, allowed=frozenset({"F", "M", "U"})),
        Column("line_of_business", required=True, allowed=LINES_OF_BUSINESS),
        Column("assigned_clinic_id", required=True),
        Column("pcp_npi", code=NPI),
        Column("enrollment_start_date", DATE, required=True),
        Column("enrollment_end_date", DATE),
        Column("medi_cal_enrollment_date", DATE),
    ),
    natural_key=("member_id", "enrollment_start_date"),
    period_column="enrollment_start_date",
    cross_rules=(
        CrossRule(
            "birth_date", Reason.BIRTH_DATE_IN_FUTURE, (pl.col("birth_date") > pl.col(AS_OF)).fill_null(False)
        ),
        CrossRule(
            "birth_date",
            Reason.BIRTH_AFTER_ENROLLMENT,
            _ends_before_starts("birth_date", "enrollment_start_date"),
        ),
        CrossRule(
            "enrollment_end_date",
            Reason.END_BEFORE_START,
            _ends_before_starts("enrollment_start_date", "enrollment_end_date"),
        ),
    ),
)

_DIAGNOSES = tuple(Column(f"diagnosis_code_{i}", required=i == 1, code=ICD10CM) for i in range(1, 13))

MEDICAL_CLAIMS = KindSchema(
    columns=(
        Column("claim_id", required=True),
        Column("claim_line_number", INTEGER, required=True, minimum=1),
        Column("claim_frequency_code", required=True, allowed=frozenset({"1", "7", "8"})),
        Column("original_claim_id"),
        Column("member_id", required=True),
        Column("claim_start_date", DATE, required=True),
        Column("claim_end_date", DATE, required=True),
        Column("received_date", DATE, required=True),
        Column("paid_date", DATE),
        Column("hcpcs_code", required=True, code=HCPCS),
        Column("hcpcs_modifier_1", code=MODIFIER),
        Column("hcpcs_modifier_2", code=MODIFIER),
        *_DIAGNOSES,
        Column("place_of_service_code", code=POS),
        Column("rendering_npi", code=NPI),
        Column("rendering_tin", code=TIN),
        Column("billing_clinic_id"),
        Column("allowed_amount", MONEY),
        Column("paid_amount", MONEY),
    ),
    natural_key=("claim_id", "claim_line_number"),
    # The month the plan received the line: the month it earns in (Q15), and the order files come in.
    period_column="received_date",
    cross_rules=(
        CrossRule(
            "claim_end_date",
            Reason.END_BEFORE_START,
            _ends_before_starts("claim_start_date", "claim_end_date"),
        ),
        CrossRule(
            "original_claim_id",
            Reason.ORIGINAL_CLAIM_REQUIRED,
            pl.col("claim_frequency_code").is_in(["7", "8"]).fill_null(False)
            & pl.col("original_claim_id").is_null(),
        ),
    ),
)

PHARMACY_CLAIMS = KindSchema(
    columns=(
        Column("claim_id", required=True),
        Column("fill_number", INTEGER, required=True, minimum=0, maximum=99),
        Column("claim_status", required=True, allowed=frozenset({"paid", "reversed"})),
        Column("member_id", required=True),
        Column("dispensing_date", DATE, required=True),
        Column("ndc_code", required=True, code=NDC11),
        Column("days_supply", INTEGER, required=True, minimum=1, maximum=365),
        Column("quantity", QUANTITY, required=True),
        Column("prescriber_npi", required=True, code=NPI),
        Column("dispensing_npi", code=NPI),
        Column("paid_date", DATE),
        Column("allowed_amount", MONEY),
        Column("paid_amount", MONEY),
    ),
    natural_key=("claim_id", "fill_number", "claim_status"),
    period_column="dispensing_date",
)

IMMUNIZATIONS = KindSchema(
    columns=(
        Column("member_id", required=True),
        Column("cvx_code", required=True, code=CVX),
        Column("immunization_date", DATE, required=True),
        Column("source", required=True, allowed=frozenset({"registry", "ehr", "claim", "patient_reported"})),
        Column("lot_number"),
        Column("administering_npi", code=NPI),
    ),
    period_column="immunization_date",
    cross_rules=(
        CrossRule(
            "immunization_date",
            Reason.OUT_OF_RANGE,
            (pl.col("immunization_date") > pl.col(AS_OF)).fill_null(False),
        ),
    ),
)

LABS = KindSchema(
    columns=(
        Column("member_id", required=True),
        Column("loinc_code", required=True, code=LOINC),
        Column("result_value", required=True),
        Column("result_unit"),
        Column("result_date", DATE, required=True),
        Column("ordering_npi", code=NPI),
    ),
    period_column="result_date",
    cross_rules=(
        CrossRule(
            "result_value",
            Reason.NOT_NUMERIC,
            pl.col("loinc_code").is_in(sorted(NUMERIC_LOINC)).fill_null(False)
            & ~pl.col("result_value").str.contains(r"^\d{1,4}(\.\d{1,2})?$").fill_null(True),
        ),
    ),
)

ATTESTATIONS = KindSchema(
    columns=(
        Column("attestation_id", required=True),
        Column("clinic_id", required=True),
        Column("member_id", required=True),
        Column("action_code", required=True, code=ACTION_CODE),
        Column("step", required=True, allowed=ATTESTATION_STEPS),
        Column("action_date", DATE, required=True),
        Column("attested_by", required=True),
        Column("result_code", code=HCPCS),
        Column("result_value"),
    ),
    natural_key=("attestation_id",),
    period_column="action_date",
)

TA_ENGAGEMENT = KindSchema(
    columns=(
        Column("practice_id", required=True),
        Column(
            "activity",
            required=True,
            allowed=frozenset(
                {"coaching_session", "quarterly_convening", "virtual_learning", "skill_training"}
            ),
        ),
        Column("activity_date", DATE, required=True),
        Column("status", required=True, allowed=frozenset({"completed", "scheduled", "missed", "cancelled"})),
    ),
    period_column="activity_date",
)


def _code_mismatch(system: str, code: CodeFormat) -> CrossRule:
    bad = (pl.col("code_system") == system) & ~pl.col("code").str.contains(code.pattern)
    return CrossRule("code", code.reason, bad.fill_null(False))


FHIR = KindSchema(
    columns=(
        Column("resource_type", required=True),
        Column("resource_id", required=True),
        Column("member_id", required=True),
        Column(
            "code_system",
            required=True,
            allowed=frozenset({"CVX", "LOINC", "CPT", "HCPCS", "ICD10CM", "NDC"}),
        ),
        Column("code", required=True),
        Column("event_date", DATE, required=True),
        Column("value"),
        Column("unit"),
        Column("days_supply", INTEGER, minimum=1, maximum=365),
        Column("status"),
        Column("resource_index", INTEGER, required=True, minimum=1),
    ),
    natural_key=("resource_type", "resource_id", "code_system", "code"),
    provenance=("resource_index",),
    period_column="event_date",
    cross_rules=(
        _code_mismatch("CVX", CVX),
        _code_mismatch("LOINC", LOINC),
        _code_mismatch("CPT", CodeFormat(r"^(\d{5}|\d{4}[FT])$", Reason.INVALID_HCPCS)),
        _code_mismatch("HCPCS", CodeFormat(r"^[A-Z]\d{4}$", Reason.INVALID_HCPCS)),
        _code_mismatch("ICD10CM", ICD10CM),
        _code_mismatch("NDC", NDC11),
        CrossRule(
            "value",
            Reason.NOT_NUMERIC,
            pl.col("code").is_in(sorted(NUMERIC_LOINC)).fill_null(False)
            & ~pl.col("value").str.contains(r"^\d{1,4}(\.\d{1,2})?$").fill_null(False),
        ),
    ),
)

SCHEMAS: dict[FileKind, KindSchema] = {
    FileKind.CLINICS: CLINICS,
    FileKind.ELIGIBILITY: ELIGIBILITY,
    FileKind.MEDICAL_CLAIMS: MEDICAL_CLAIMS,
    FileKind.PHARMACY_CLAIMS: PHARMACY_CLAIMS,
    FileKind.IMMUNIZATIONS: IMMUNIZATIONS,
    FileKind.LABS: LABS,
    FileKind.ATTESTATIONS: ATTESTATIONS,
    FileKind.TA_ENGAGEMENT: TA_ENGAGEMENT,
    FileKind.FHIR: FHIR,
}
"""FHIR's schema is that of its flattened rows (`shared.intake.fhir`), not of the file."""
