"""Valid sample rows per kind and small writers; tests mutate one field at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

import polars as pl

from shared.intake import SCHEMAS
from shared.models.files import FileKind

CANARY = "CANARY-SSN-999"

VALID_ROWS: dict[FileKind, dict[str, str]] = {
    FileKind.CLINICS: {
        "clinic_id": "CL001",
        "tin": "123456789",
        "npi": "1234567893",
        "clinic_name": "Harbor Family Clinic",
        "lines_of_business": "MC|CA",
        "program": "care_gap",
        "program_enrollment_date": "2026-03-01",
        "track": "family_adult",
        "practice_type": "mixed",
        "apc_payment_track": "ffs_plus",
        "hpi_decile": "4",
        "zip_code": "94401",
    },
    FileKind.ELIGIBILITY: {
        "member_id": "M0001",
        "birth_date": "1960-05-17",
        "gender": "F",
        "line_of_business": "MC",
        "assigned_clinic_id": "CL001",
        "pcp_npi": "1234567893",
        "enrollment_start_date": "2026-01-01",
        "enrollment_end_date": "2026-12-31",
    },
    FileKind.MEDICAL_CLAIMS: {
        "claim_id": "C0001",
        "claim_line_number": "1",
        "claim_frequency_code": "1",
        "member_id": "M0001",
        "claim_start_date": "2026-02-03",
        "claim_end_date": "2026-02-03",
        "received_date": "2026-02-10",
        "paid_date": "2026-02-20",
        "hcpcs_code": "77067",
        "hcpcs_modifier_1": "26",
        "diagnosis_code_1": "Z1231",
        "place_of_service_code": "11",
        "rendering_npi": "1234567893",
        "rendering_tin": "123456789",
        "billing_clinic_id": "CL001",
        "allowed_amount": "125.50",
        "paid_amount": "100",
    },
    FileKind.PHARMACY_CLAIMS: {
        "claim_id": "RX0001",
        "fill_number": "0",
        "claim_status": "paid",
        "member_id": "M0001",
        "dispensing_date": "2026-02-05",
        "ndc_code": "00093505698",
        "days_supply": "30",
        "quantity": "30",
        "prescriber_npi": "1234567893",
        "paid_amount": "4.20",
    },
    FileKind.IMMUNIZATIONS: {
        "member_id": "M0001",
        "cvx_code": "141",
        "immunization_date": "2026-01-15",
        "source": "registry",
    },
    FileKind.LABS: {
        "member_id": "M0001",
        "loinc_code": "4548-4",
        "result_value": "7.2",
        "result_unit": "%",
        "result_date": "2026-02-01",
    },
    FileKind.ATTESTATIONS: {
        "attestation_id": "A0001",
        "clinic_id": "CL001",
        "member_id": "M0001",
        "action_code": "BCS-E",
        "step": "schedule",
        "action_date": "2026-02-02",
        "attested_by": "user-17",
        "result_code": "3074F",
    },
    FileKind.TA_ENGAGEMENT: {
        "practice_id": "CL001",
        "activity": "coaching_session",
        "activity_date": "2026-02-12",
        "status": "completed",
    },
    FileKind.PROVIDERS: {
        "npi": "1234567893",
        "practice_id": "CL001",
        "taxonomy_code": "207Q00000X",
        "specialty": "Family Medicine",
        "primary_care": "true",
        "effective_date": "2025-01-01",
    },
}

UNIQUE_FIELD: dict[FileKind, str] = {
    FileKind.CLINICS: "clinic_id",
    FileKind.ELIGIBILITY: "member_id",
    FileKind.MEDICAL_CLAIMS: "claim_id",
    FileKind.PHARMACY_CLAIMS: "claim_id",
    FileKind.IMMUNIZATIONS: "member_id",
    FileKind.LABS: "member_id",
    FileKind.ATTESTATIONS: "attestation_id",
    FileKind.TA_ENGAGEMENT: "practice_id",
    FileKind.PROVIDERS: "practice_id",
}
"""A field that, made distinct per row, makes every row distinct under its kind's natural key."""


def rows(kind: FileKind, n: int, **changes: str | None) -> list[dict[str, str | None]]:
    """`n` valid, distinct rows of a kind, with `changes` applied to every row."""
    out: list[dict[str, str | None]] = []
    for i in range(n):
        row: dict[str, str | None] = dict(VALID_ROWS[kind])
        row[UNIQUE_FIELD[kind]] = f"{row[UNIQUE_FIELD[kind]]}-{i}"
        row.update(changes)
        out.append(row)
    return out


def csv_bytes(kind: FileKind, data: Iterable[dict[str, str | None]], trailer: str | None = None) -> bytes:
    """A CSV with the kind's full header; None is written as an empty field."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SCHEMAS[kind].names, lineterminator="\n")
    writer.writeheader()
    for row in data:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    if trailer is not None:
        buffer.write(trailer + "\n")
    return buffer.getvalue().encode("utf-8")


def jsonl_bytes(data: Iterable[dict[str, str | None]]) -> bytes:
    """JSON Lines, one object per row."""
    return "".join(json.dumps(row) + "\n" for row in data).encode("utf-8")


def parquet_bytes(data: list[dict[str, str | None]]) -> bytes:
    """A Parquet file of string columns."""
    buffer = io.BytesIO()
    pl.DataFrame(data, schema=dict.fromkeys(data[0], pl.String)).write_parquet(buffer)
    return buffer.getvalue()
