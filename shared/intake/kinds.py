"""One schema per file kind, as data. `docs/file-specs.md` is the human-readable copy of this file."""

from __future__ import annotations

from datetime import date

import polars as pl

from shared.intake.schema import (
    ACTION_CODE,
    BILL_TYPE,
    CODINGS,
    CPT,
    CVX,
    DISCHARGE_DISPOSITION,
    HCPCS,
    HCPCS_LEVEL2,
    ICD10CM,
    ICD10PCS,
    ID,
    LOINC,
    MODIFIER,
    MS_DRG,
    NDC11,
    NPI,
    POS,
    REFERENCE,
    REVENUE_CENTER,
    RXNORM,
    SNOMED,
    TAXONOMY,
    TIN,
    TOKEN,
    ZIP,
    CodeFormat,
    Column,
    ColumnType,
    CrossRule,
    DateWindow,
    KindSchema,
    Reason,
)
from shared.models.files import FileKind
from shared.programs.products import load_products

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
LOB_LIST = CodeFormat(r"^(CA|MC|HW|COMM)(\|(CA|MC|HW|COMM))*$", Reason.NOT_ALLOWED, 32)
NUMERIC_LOINC = frozenset({"8480-6", "8462-4", "4548-4", "17856-6"})
"""Systolic BP, diastolic BP, HbA1c (two methods): their results must be numbers."""
NUMERIC_RESULT = r"^[0-9]{1,4}(\.[0-9]{1,2})?$"
EARLIEST_SERVICE = date(1990, 1, 1)
SERVICE = DateWindow(earliest=EARLIEST_SERVICE, days_ahead=1)
"""Service, received, paid, fill, result and attestation dates: from 1990 to the day read plus one."""
BIRTH = DateWindow(years_back=120)
"""Birth dates: at most 120 years before the day read (a later one is BIRTH_DATE_IN_FUTURE)."""
ENROLLMENT = DateWindow(earliest=EARLIEST_SERVICE, days_ahead=2 * 366)
"""Enrollment dates: from 1990 to two years ahead (a roster may carry planned starts and ends)."""
SCHEDULED = DateWindow(earliest=EARLIEST_SERVICE, days_ahead=366)
"""Dates that may be planned a year ahead (TA activities)."""
LIFETIME = DateWindow(years_back=120, days_ahead=0)
"""Events of a member's lifetime up to the day read (immunizations from a registry's history)."""
CLINICAL = DateWindow(years_back=120, days_ahead=1)
"""A FHIR record's date: within a lifetime, up to the day read plus one."""
PERIOD_BOUND = DateWindow(years_back=120, days_ahead=10 * 366)
"""A FHIR record's period bounds: an order's dosage may run years ahead."""


def _ends_before_starts(start: str, end: str) -> pl.Expr:
    return (pl.col(end) < pl.col(start)).fill_null(False)


def _npi_check_digit_fails(name: str) -> pl.Expr:
    """True where a 10-digit NPI's last digit is not the Luhn check digit of its first nine behind the
    prefix 80840, as NPPES assigns them (the prefix's digits add the constant 24)."""
    digits = [pl.col(name).str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    total: pl.Expr = pl.lit(24, pl.Int32)
    for i, digit in enumerate(digits[:9]):
        if i % 2 == 0:  # from the right of the 14-digit payload, every other digit is doubled
            doubled = digit * 2
            digit = pl.when(doubled > 9).then(doubled - 9).otherwise(doubled)
        total = total + digit
    return (((10 - total % 10) % 10) != digits[9]).fill_null(False)


PAYER = Column("payer_id", code=ID)
"""Every tabular kind's last column: who the row is with. Missing means the deploying plan (`PLAN_ID`)."""
PRODUCTS = load_products().codes
"""The products an eligibility row may name: plan data (`shared/programs/data/plan/products.json`)."""
INSTITUTIONAL = "institutional"
CLAIM_TYPES = frozenset({"professional", INSTITUTIONAL})
ONBOARDING_ACTIVITIES = frozenset(
    {
        "welcome_email",
        "onboarding_meetings",
        "learning_resources",
        "business_associate_agreement",
        "imat_baseline",
        "practice_improvement_plan",
        "coaching_sessions_scheduled",
    }
)
"""The seed's seven required onboarding activities (APC technical assistance, items 1-7)."""
ONGOING_ACTIVITIES = frozenset({"coaching_session", "work_plan_progress", "quarterly_convening", "imat"})
"""The monthly and quarterly ones (items 8-10): coaching sessions, work-plan progress, the quarterly learning
webinar (`quarterly_convening`), the mid-point and final IMAT."""
TA_ACTIVITIES = ONBOARDING_ACTIVITIES | ONGOING_ACTIVITIES | {"virtual_learning", "skill_training"}


CLINICS = KindSchema(
    columns=(
        Column("clinic_id", required=True, code=ID),
        Column("tin", required=True, code=TIN),
        Column("npi", required=True, code=NPI),
        Column("clinic_name", required=True),
        Column("lines_of_business", required=True, code=LOB_LIST),
        Column("program", required=True, allowed=frozenset({"care_gap", "benchmark"})),
        Column("program_enrollment_date", DATE, required=True, window=ENROLLMENT),
        Column("track", required=True, allowed=frozenset({"family_adult", "pediatric"})),
        Column("practice_type", required=True, allowed=frozenset({"adult", "pediatric", "mixed"})),
        Column(
            "apc_payment_track",
            required=True,
            allowed=frozenset({"ffs_plus", "basic_capitation", "intermediate_capitation", "none"}),
        ),
        Column("apc_track_start_date", DATE, window=ENROLLMENT),
        Column("hpi_decile", INTEGER, minimum=1, maximum=10),
        Column("address_line"),
        Column("city"),
        Column("state"),
        Column("zip_code", code=ZIP),
        PAYER,
    ),
    # One row per clinic and payer: a row naming a payer is the practice's APC track with that payer.
    natural_key=("clinic_id", "payer_id"),
    period_column=None,
    member_column=None,
)

ELIGIBILITY = KindSchema(
    columns=(
        Column("member_id", required=True, code=ID),
        Column("birth_date", DATE, required=True, window=BIRTH),
        Column("gender", required=True, allowed=frozenset({"F", "M", "U"})),
        Column("line_of_business", required=True, allowed=LINES_OF_BUSINESS),
        Column("product", allowed=PRODUCTS),
        Column("assigned_clinic_id", required=True, code=ID),
        Column("pcp_npi", code=NPI),
        Column("enrollment_start_date", DATE, required=True, window=ENROLLMENT),
        Column("enrollment_end_date", DATE, window=ENROLLMENT),
        Column("medi_cal_enrollment_date", DATE, window=ENROLLMENT),
        PAYER,
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
        Column("claim_id", required=True, code=ID),
        Column("claim_line_number", INTEGER, required=True, minimum=1, maximum=9999),
        Column("claim_frequency_code", required=True, allowed=frozenset({"1", "7", "8"})),
        Column("original_claim_id", code=ID),
        Column("member_id", required=True, code=ID),
        Column("claim_start_date", DATE, required=True, window=SERVICE),
        Column("claim_end_date", DATE, required=True, window=SERVICE),
        Column("received_date", DATE, required=True, window=SERVICE),
        Column("paid_date", DATE, window=SERVICE),
        Column(
            "hcpcs_code",
            required=True,
            code=HCPCS,
            # A facility's room, pharmacy or supply line is coded by its revenue code alone (837I/UB-04).
            optional_where=(pl.col("claim_type") == INSTITUTIONAL)
            & pl.col("revenue_center_code").is_not_null(),
        ),
        Column("hcpcs_modifier_1", code=MODIFIER),
        Column("hcpcs_modifier_2", code=MODIFIER),
        *_DIAGNOSES,
        Column("place_of_service_code", code=POS),
        Column("rendering_npi", code=NPI),
        Column("rendering_tin", code=TIN),
        Column("billing_clinic_id", code=ID),
        Column("claim_type", allowed=CLAIM_TYPES),
        Column("bill_type_code", code=BILL_TYPE),
        Column("revenue_center_code", code=REVENUE_CENTER),
        Column("admission_date", DATE, window=SERVICE),
        Column("discharge_date", DATE, window=SERVICE),
        Column("discharge_disposition_code", code=DISCHARGE_DISPOSITION),
        Column("ms_drg_code", code=MS_DRG),
        Column("allowed_amount", MONEY),
        Column("paid_amount", MONEY),
        PAYER,
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
        CrossRule(
            "discharge_date",
            Reason.END_BEFORE_START,
            _ends_before_starts("admission_date", "discharge_date"),
        ),
    ),
)

PHARMACY_CLAIMS = KindSchema(
    columns=(
        Column("claim_id", required=True, code=ID),
        Column("fill_number", INTEGER, required=True, minimum=0, maximum=99),
        Column("claim_status", required=True, allowed=frozenset({"paid", "reversed"})),
        Column("member_id", required=True, code=ID),
        Column("dispensing_date", DATE, required=True, window=SERVICE),
        Column("ndc_code", required=True, code=NDC11),
        Column("days_supply", INTEGER, required=True, minimum=1, maximum=365),
        Column("quantity", QUANTITY, required=True),
        Column("prescriber_npi", required=True, code=NPI),
        Column("dispensing_npi", code=NPI),
        Column("paid_date", DATE, window=SERVICE),
        Column("allowed_amount", MONEY),
        Column("paid_amount", MONEY),
        PAYER,
    ),
    natural_key=("claim_id", "fill_number", "claim_status"),
    period_column="dispensing_date",
)

IMMUNIZATIONS = KindSchema(
    columns=(
        Column("member_id", required=True, code=ID),
        Column("cvx_code", required=True, code=CVX),
        Column("immunization_date", DATE, required=True, window=LIFETIME),
        Column("source", required=True, allowed=frozenset({"registry", "ehr", "claim", "patient_reported"})),
        Column("lot_number", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 64)),
        Column("administering_npi", code=NPI),
        PAYER,
    ),
    period_column="immunization_date",
)

LABS = KindSchema(
    columns=(
        Column("member_id", required=True, code=ID),
        Column("loinc_code", required=True, code=LOINC),
        Column("result_value", required=True, code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 64)),
        Column("result_unit", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 32)),
        Column("result_date", DATE, required=True, window=SERVICE),
        Column("ordering_npi", code=NPI),
        PAYER,
    ),
    period_column="result_date",
    cross_rules=(
        CrossRule(
            "result_value",
            Reason.NOT_NUMERIC,
            pl.col("loinc_code").is_in(sorted(NUMERIC_LOINC)).fill_null(False)
            & ~pl.col("result_value").str.contains(NUMERIC_RESULT).fill_null(True),
        ),
    ),
)

ATTESTATIONS = KindSchema(
    columns=(
        Column("attestation_id", required=True, code=ID),
        Column("clinic_id", required=True, code=ID),
        Column("member_id", required=True, code=ID),
        Column("action_code", required=True, code=ACTION_CODE),
        Column("step", required=True, allowed=ATTESTATION_STEPS),
        Column("action_date", DATE, required=True, window=SERVICE),
        Column("attested_by", required=True, code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 128)),
        Column("result_code", code=HCPCS),
        Column("result_value", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 64)),
        PAYER,
    ),
    natural_key=("attestation_id",),
    period_column="action_date",
)

TA_ENGAGEMENT = KindSchema(
    columns=(
        Column("practice_id", required=True, code=ID),
        Column("activity", required=True, allowed=TA_ACTIVITIES),
        Column("activity_date", DATE, required=True, window=SCHEDULED),
        Column("status", required=True, allowed=frozenset({"completed", "scheduled", "missed", "cancelled"})),
        PAYER,
    ),
    period_column="activity_date",
    member_column=None,
)

PROVIDERS = KindSchema(
    columns=(
        Column("npi", required=True, code=NPI),
        Column("practice_id", required=True, code=ID),
        Column("taxonomy_code", code=TAXONOMY),
        Column("specialty", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 100)),
        Column("primary_care", required=True, allowed=frozenset({"true", "false"})),
        Column("effective_date", DATE, required=True, window=ENROLLMENT),
        Column("termination_date", DATE, window=ENROLLMENT),
        PAYER,
    ),
    # One row per affiliation of a provider with a practice from a day: a later file ends it or moves it.
    natural_key=("npi", "practice_id", "effective_date"),
    period_column=None,
    member_column=None,
    cross_rules=(
        CrossRule("npi", Reason.INVALID_NPI, _npi_check_digit_fails("npi")),
        CrossRule(
            "termination_date",
            Reason.END_BEFORE_START,
            _ends_before_starts("effective_date", "termination_date"),
        ),
    ),
)


FHIR_CODE_RULES: dict[str, CodeFormat] = {
    "CVX": CVX,
    "LOINC": LOINC,
    "CPT": CPT,
    "HCPCS": HCPCS_LEVEL2,
    "ICD10CM": ICD10CM,
    "NDC": NDC11,
    "http://snomed.info/sct": SNOMED,
    "http://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "http://www.cms.gov/Medicare/Coding/ICD10": ICD10PCS,
    "http://www.nlm.nih.gov/research/umls/hcpcs": HCPCS_LEVEL2,
}
"""The code systems a FHIR row may be coded in, each with its own code rule: the menus' six (by the short
name evidence gives them) and the other systems the measures' value sets use (SNOMED CT, RxNorm,
ICD-10-PCS, HCPCS as VSAC spells it), by their FHIR canonical URL."""
FHIR_RESOURCE_TYPES = frozenset(
    {
        "Immunization",
        "Observation",
        "Procedure",
        "Condition",
        "MedicationDispense",
        "Encounter",
        "MedicationRequest",
        "ServiceRequest",
        "DeviceRequest",
        "AllergyIntolerance",
        "AdverseEvent",
    }
)
"""The resource types that become rows (`shared.intake.fhir.RESOURCES`)."""


def _code_mismatch(system: str, code: CodeFormat) -> CrossRule:
    bad = (pl.col("code_system") == system) & ~pl.col("code").str.contains(code.pattern)
    return CrossRule("code", code.reason, bad.fill_null(False))


FHIR = KindSchema(
    columns=(
        Column("resource_type", required=True, allowed=FHIR_RESOURCE_TYPES),
        Column("resource_id", required=True, code=REFERENCE),
        Column("member_id", required=True, code=ID),
        Column("code_system", required=True, allowed=frozenset(FHIR_CODE_RULES)),
        Column("code", required=True, code=CodeFormat(r"^[!-~]+$", Reason.INVALID_CODE, 64)),
        Column("event_date", DATE, required=True, window=CLINICAL),
        Column("value", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 256)),
        Column("unit", code=CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, 64)),
        Column("days_supply", INTEGER, minimum=1, maximum=365),
        Column("status", code=TOKEN),
        Column("resource_index", INTEGER, required=True, minimum=1),
        # What the measure engine reads besides (shared.intake.fhir.RECORD_COLUMNS), checked like the rest.
        Column("codes", code=CODINGS),
        Column("start_date", DATE, window=PERIOD_BOUND),
        Column("end_date", DATE, window=PERIOD_BOUND),
        Column("verification", code=TOKEN),
        Column("intent", code=TOKEN),
        Column("negated", allowed=frozenset({"true", "false"})),
        Column("reasons", code=CODINGS),
        Column("value_codes", code=CODINGS),
        Column("encounter", code=REFERENCE),
        Column("setting", code=TOKEN),
        Column("discharge", code=CODINGS),
        Column("body_site", code=CODINGS),
    ),
    natural_key=("resource_type", "resource_id", "code_system", "code"),
    shard_column="resource_id",
    provenance=("resource_index",),
    period_column="event_date",
    cross_rules=(
        *(_code_mismatch(system, rule) for system, rule in FHIR_CODE_RULES.items()),
        CrossRule(
            "value",
            Reason.NOT_NUMERIC,
            (pl.col("code_system") == "LOINC").fill_null(False)
            & pl.col("code").is_in(sorted(NUMERIC_LOINC)).fill_null(False)
            & ~pl.col("value").str.contains(NUMERIC_RESULT).fill_null(False),
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
    FileKind.PROVIDERS: PROVIDERS,
    FileKind.FHIR: FHIR,
}
"""FHIR's schema is that of its flattened rows (`shared.intake.fhir`), not of the file."""
