import gzip
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.intake import SCHEMAS, IntakeResult, QuarantineError, read_file, rejects_csv
from shared.models.files import FileKind
from tests.unit.intake.factories import CANARY, VALID_ROWS, csv_bytes, jsonl_bytes, rows

AS_OF = date(2026, 6, 30)
KINDS = sorted(SCHEMAS, key=str)
TABULAR = [k for k in KINDS if k is not FileKind.FHIR]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values a field may be mutated to: blanks, other fields' valid values, near misses and junk.
POOL = [
    *sorted({v for row in VALID_ROWS.values() for v in row.values()}),
    "",
    " ",
    CANARY,
    "2026-02-30",
    "9999-12-31",
    "0",
    "-1",
    "1.999",
    "7",
    "8",
    "reversed",
    "C0001-0",
    "RX0001-0",
    "\u00e9\u4e2d",
    '"quoted, value"',
    "multi\nline",
]


def _assert_accounting(result: IntakeResult) -> None:
    manifest = result.manifest
    accepted = result.accepted.get_column("source_row").to_list()
    rejected = set(result.rejects.get_column("source_row").to_list())
    assert (
        manifest.rows_read == manifest.accepted + manifest.rejected + manifest.duplicate + manifest.superseded
    )
    assert len(accepted) == len(set(accepted)) == manifest.accepted
    assert len(rejected) == manifest.rejected
    assert not rejected & set(accepted)
    assert all(1 <= r <= manifest.rows_read for r in rejected | set(accepted))
    assert CANARY.encode() not in rejects_csv(result)


def _read(data: bytes, kind: FileKind) -> IntakeResult | None:
    try:
        return read_file(data, kind=kind, source_key=f"landing/{kind}/p", as_of=AS_OF)
    except QuarantineError as error:
        assert CANARY not in str(error)
        return None


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    prefix=st.sampled_from([b"", b"\x1f\x8b", b"PAR1", b"{", b"member_id,cvx_code\n", b"\xef\xbb\xbf"]),
    body=st.binary(max_size=300),
)
def test_arbitrary_bytes_either_quarantine_or_account_for_every_row(
    kind: FileKind, prefix: bytes, body: bytes
) -> None:
    # GIVEN arbitrary bytes behind a plausible opening
    # WHEN they are read as a file of some kind
    result = _read(prefix + body, kind)
    # THEN only QuarantineError escapes, and a read file accounts for every row
    if result is not None:
        _assert_accounting(result)


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[FileKind, list[dict[str, str | None]]]:
    kind = draw(st.sampled_from(TABULAR))
    names = SCHEMAS[kind].names
    data = rows(kind, draw(st.integers(1, 8)))
    for _ in range(draw(st.integers(0, 12))):
        row = draw(st.integers(0, len(data) - 1))
        field = draw(st.sampled_from(names))
        value = draw(st.one_of(st.sampled_from(POOL), st.text(max_size=12)))
        data[row] = {**data[row], field: value}
    repeats = draw(st.lists(st.integers(0, len(data) - 1), max_size=4))
    return kind, data + [data[i] for i in repeats]


@SETTINGS
@given(case=mutated_files(), encoding=st.sampled_from(["csv", "csv.gz", "jsonl"]))
def test_mutated_rows_are_each_accounted_for_exactly_once(
    case: tuple[FileKind, list[dict[str, str | None]]], encoding: str
) -> None:
    # GIVEN valid rows with random fields mutated and some rows repeated
    kind, data = case
    raw = jsonl_bytes(data) if encoding == "jsonl" else csv_bytes(kind, data)
    raw = gzip.compress(raw) if encoding.endswith(".gz") else raw
    # WHEN the file is read
    result = _read(raw, kind)
    # THEN nothing but QuarantineError escapes, and every row is accepted, rejected, a duplicate or
    # superseded exactly once
    if result is not None:
        assert result.manifest.rows_read == len(data)
        _assert_accounting(result)
