import gzip
from collections.abc import Callable

import polars as pl
import pytest

from shared.intake import read_file
from shared.models.files import FileKind
from tests.unit.intake.factories import csv_bytes, jsonl_bytes, parquet_bytes, rows

LAB = FileKind.LABS
KEY = "landing/labs/results"
Encoder = Callable[[list[dict[str, str | None]]], bytes]


def _read(data: bytes) -> pl.DataFrame:
    return read_file(data, kind=LAB, source_key=KEY).accepted.drop("source_row")


@pytest.mark.parametrize(
    "encode",
    [
        lambda r: gzip.compress(csv_bytes(LAB, r)),
        lambda r: jsonl_bytes(r),
        lambda r: gzip.compress(jsonl_bytes(r)),
        lambda r: parquet_bytes(r),
        lambda r: b"\xef\xbb\xbf" + csv_bytes(LAB, r),
        lambda r: b"\xef\xbb\xbf" + jsonl_bytes(r),
        lambda r: csv_bytes(LAB, r).replace(b"\n", b"\r\n"),
        lambda r: csv_bytes(LAB, r, trailer="#TRAILER,5"),
    ],
    ids=["csv-gzip", "jsonl", "jsonl-gzip", "parquet", "csv-bom", "jsonl-bom", "csv-crlf", "csv-trailer"],
)
def test_every_format_yields_the_same_rows_as_plain_csv(encode: Encoder) -> None:
    # GIVEN the same five lab rows in another encoding
    data = rows(LAB, 5)
    # WHEN both are read
    expected = _read(csv_bytes(LAB, data))
    got = _read(encode(data))
    # THEN the accepted rows are identical
    assert got.height == 5
    assert got.equals(expected)


def test_header_names_are_matched_ignoring_case_and_spaces_and_extra_columns_are_ignored() -> None:
    # GIVEN a CSV with shouted, padded headers and a column intake does not know
    body = csv_bytes(LAB, rows(LAB, 2)).decode()
    header, rest = body.split("\n", 1)
    shouted = ",".join(f" {h.upper()} " for h in header.split(",")) + ",comment"
    data = (shouted + "\n" + rest.replace("\n", ",x\n")).encode()
    # WHEN it is read
    result = read_file(data, kind=LAB, source_key=KEY)
    # THEN both rows are accepted with the schema's columns only
    assert result.manifest.accepted == 2
    assert "comment" not in result.accepted.columns


def test_json_numbers_are_read_as_strings_and_checked() -> None:
    # GIVEN JSON Lines where a code arrives as a number
    data = jsonl_bytes(rows(FileKind.IMMUNIZATIONS, 2)).replace(b'"141"', b"141")
    # WHEN it is read
    result = read_file(data, kind=FileKind.IMMUNIZATIONS, source_key="landing/immunizations/x.jsonl")
    # THEN the code is accepted as the string it spells
    assert result.accepted.get_column("cvx_code").to_list() == ["141", "141"]
