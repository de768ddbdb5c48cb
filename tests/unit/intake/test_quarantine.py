import gzip

import pytest

from shared.intake import QuarantineError, kind_from_key, read_file
from shared.models.files import FileKind
from tests.unit.intake.factories import CANARY, csv_bytes, jsonl_bytes, rows

IMM = FileKind.IMMUNIZATIONS
KEY = "landing/immunizations/f.csv"


def _quarantine(data: bytes, kind: FileKind = IMM) -> QuarantineError:
    with pytest.raises(QuarantineError) as caught:
        read_file(data, kind=kind, source_key=KEY)
    return caught.value


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("landing/medical_claims/2026/03/claims.csv.gz", FileKind.MEDICAL_CLAIMS),
        ("landing/ta_engagement/ta.csv", FileKind.TA_ENGAGEMENT),
        ("landing/fhir/bundle.json", FileKind.FHIR),
    ],
)
def test_the_kind_comes_from_the_landing_prefix(key: str, kind: FileKind) -> None:
    # GIVEN a landing key
    # WHEN its kind is read
    found = kind_from_key(key)
    # THEN it is the folder under landing/
    assert found is kind


@pytest.mark.parametrize(
    "key", ["landing/dental/x.csv", "quarantine/labs/x.csv", "landing/labs", "landing/labs/", "labs.csv"]
)
def test_keys_outside_a_known_landing_folder_are_unknown_kind(key: str) -> None:
    # GIVEN a key that is not landing/<known kind>/<name>
    # WHEN its kind is read
    with pytest.raises(QuarantineError) as caught:
        kind_from_key(key)
    # THEN it is UNKNOWN_KIND
    assert caught.value.reason_code == "UNKNOWN_KIND"


@pytest.mark.parametrize("data", [b"", b"   \n\n", gzip.compress(b"")], ids=["zero", "blank", "empty-gzip"])
def test_a_file_without_content_is_empty(data: bytes) -> None:
    # GIVEN a file with no content
    # WHEN it is read
    error = _quarantine(data)
    # THEN it is quarantined EMPTY_FILE
    assert error.reason_code == "EMPTY_FILE"


def test_a_header_without_rows_is_empty() -> None:
    # GIVEN a CSV with only its header
    # WHEN it is read
    error = _quarantine(csv_bytes(IMM, []))
    # THEN it is quarantined EMPTY_FILE
    assert error.reason_code == "EMPTY_FILE"


def test_bytes_that_are_not_utf8_are_bad_encoding() -> None:
    # GIVEN a Latin-1 encoded CSV
    data = csv_bytes(IMM, rows(IMM, 2, member_id="Müller")).decode().encode("latin-1")
    # WHEN it is read
    error = _quarantine(data)
    # THEN it is quarantined BAD_ENCODING
    assert error.reason_code == "BAD_ENCODING"


def test_a_gzip_cut_short_is_truncated() -> None:
    # GIVEN a gzip stream missing its end
    whole = gzip.compress(csv_bytes(IMM, rows(IMM, 200)))
    # WHEN it is read
    error = _quarantine(whole[: len(whole) // 2])
    # THEN it is quarantined TRUNCATED_GZIP
    assert error.reason_code == "TRUNCATED_GZIP"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_missing_required_column_is_named(fmt: str) -> None:
    # GIVEN a file without the required cvx_code column
    data = [{k: v for k, v in r.items() if k != "cvx_code"} for r in rows(IMM, 2)]
    raw = jsonl_bytes(data) if fmt == "jsonl" else csv_bytes(IMM, rows(IMM, 2)).replace(b"cvx_code", b"cvx")
    # WHEN it is read
    error = _quarantine(raw)
    # THEN it is quarantined MISSING_COLUMN and the detail names the column
    assert error.reason_code == "MISSING_COLUMN"
    assert "cvx_code" in error.detail


@pytest.mark.parametrize(
    "data",
    [
        b'member_id,cvx_code,immunization_date,source\n"' + CANARY.encode() + b",141\n",
        b'{"member_id": "' + CANARY.encode() + b'", "cvx_code": \n',
        b"PAR1" + CANARY.encode() + b"PAR1",
        b"\x1f\x8b" + CANARY.encode(),
    ],
    ids=["open-quote", "broken-json", "corrupt-parquet", "corrupt-gzip"],
)
def test_unparseable_files_are_unreadable_and_the_error_never_quotes_them(data: bytes) -> None:
    # GIVEN a file its parser cannot read, carrying a recognisable value
    # WHEN it is read
    error = _quarantine(data)
    # THEN it is UNREADABLE and neither the message nor the detail carries the value
    assert error.reason_code == "UNREADABLE"
    assert CANARY not in str(error)
    assert CANARY not in error.detail
    assert error.__cause__ is None


@pytest.mark.parametrize("trailer", ["#TRAILER,4", "#TRAILER,2", "#TRAILER,three"])
def test_a_trailer_that_does_not_match_the_rows_quarantines(trailer: str) -> None:
    # GIVEN three data rows and a trailer promising something else
    data = csv_bytes(IMM, rows(IMM, 3), trailer=trailer)
    # WHEN it is read
    error = _quarantine(data)
    # THEN it is quarantined TRAILER_MISMATCH
    assert error.reason_code == "TRAILER_MISMATCH"


@pytest.mark.parametrize("compress", [False, True])
def test_a_file_over_the_size_limit_is_too_large_whatever_its_compression(compress: bool) -> None:
    # GIVEN a limit of 1,000 bytes and a 200-row file well over it, plain or gzipped (a gzip is judged
    # by what it inflates to, and inflation stops at the limit)
    data = csv_bytes(IMM, rows(IMM, 200))
    # WHEN it is read
    with pytest.raises(QuarantineError) as caught:
        read_file(gzip.compress(data) if compress else data, kind=IMM, source_key=KEY, limit=1000)
    # THEN it is quarantined TOO_LARGE, naming the limit
    assert caught.value.reason_code == "TOO_LARGE" and "1000" in caught.value.detail


def test_a_gzip_of_several_members_is_read_whole() -> None:
    # GIVEN a file gzipped in two members back to back (as `cat a.gz b.gz` makes)
    data = csv_bytes(IMM, rows(IMM, 20))
    cut = data.index(b"\n", len(data) // 2) + 1
    two = gzip.compress(data[:cut]) + gzip.compress(data[cut:])
    # WHEN it is read
    result = read_file(two, kind=IMM, source_key="landing/immunizations/two.csv.gz")
    # THEN every row is read
    assert result.manifest.rows_read == 20
