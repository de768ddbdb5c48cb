from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from shared.intake import SCHEMAS, read_file
from shared.models.files import FileKind, FileStatus
from tests.unit.intake.factories import csv_bytes, rows

AS_OF = date(2026, 6, 30)
TABULAR = sorted((k for k in SCHEMAS if k is not FileKind.FHIR), key=str)


@pytest.mark.parametrize("kind", TABULAR, ids=str)
def test_a_valid_file_of_each_kind_is_accepted_whole(kind: FileKind) -> None:
    # GIVEN a CSV of 7 valid, distinct rows
    data = csv_bytes(kind, rows(kind, 7))
    # WHEN it is read
    result = read_file(data, kind=kind, source_key=f"landing/{kind}/file.csv", as_of=AS_OF)
    # THEN every row is accepted, typed per the schema, numbered from 1
    assert result.manifest.status is FileStatus.ACCEPTED
    assert (result.manifest.rows_read, result.manifest.accepted, result.manifest.rejected) == (7, 7, 0)
    assert result.rejects.height == 0
    assert result.accepted.get_column("source_row").to_list() == list(range(1, 8))
    assert dict(result.accepted.schema) == {"source_row": pl.Int64, **SCHEMAS[kind].polars_schema()}


def test_every_file_kind_has_a_schema() -> None:
    # GIVEN the file kinds of the platform
    # WHEN schemas are looked up
    missing = {k for k in FileKind if k not in SCHEMAS}
    # THEN none lacks one (FHIR's is the schema of its flattened rows)
    assert missing == set()


def test_amounts_are_decimals_and_codes_keep_leading_zeros() -> None:
    # GIVEN a pharmacy fill with a leading-zero NDC and an amount
    data = csv_bytes(FileKind.PHARMACY_CLAIMS, rows(FileKind.PHARMACY_CLAIMS, 1, paid_amount="4.2"))
    # WHEN it is read
    result = read_file(data, kind=FileKind.PHARMACY_CLAIMS, source_key="landing/pharmacy_claims/a.csv")
    # THEN the NDC is still a string with its zeros and the amount is an exact decimal
    row = result.accepted.row(0, named=True)
    assert row["ndc_code"] == "00093505698"
    assert row["paid_amount"] == Decimal("4.20")
    assert row["dispensing_date"] == date(2026, 2, 5)


def test_values_are_trimmed_and_blank_optional_values_are_missing() -> None:
    # GIVEN an eligibility row with padded values and a blank optional end date
    data = csv_bytes(
        FileKind.ELIGIBILITY, rows(FileKind.ELIGIBILITY, 1, gender=" F ", enrollment_end_date="  ")
    )
    # WHEN it is read
    result = read_file(data, kind=FileKind.ELIGIBILITY, source_key="landing/eligibility/a.csv", as_of=AS_OF)
    # THEN it is accepted with the trimmed value and a null end date
    row = result.accepted.row(0, named=True)
    assert row["gender"] == "F"
    assert row["enrollment_end_date"] is None
