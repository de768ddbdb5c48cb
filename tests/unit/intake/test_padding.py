"""The fast path that skips stripping: it may only skip when no value can carry surrounding whitespace."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from shared.intake import read_file
from shared.intake.csv_stream import may_be_padded
from shared.models.files import FileKind
from tests.unit.intake.factories import VALID_ROWS, csv_bytes

VALUE = st.text(alphabet=st.sampled_from('ab1 \t,"'), max_size=4)


@given(rows=st.lists(st.lists(VALUE, min_size=2, max_size=2), min_size=1, max_size=5))
def test_when_the_bytes_say_nothing_is_padded_no_parsed_value_has_surrounding_whitespace(rows):
    # GIVEN any CSV, quoting and all, as polars writes it
    data = pl.DataFrame(rows, schema=["x", "y"], orient="row").write_csv().encode()
    # WHEN the bytes say no value is padded
    if may_be_padded(data):
        return
    # THEN every parsed value equals itself stripped
    frame = pl.read_csv(data, infer_schema=False)
    for column in frame.columns:
        values = [v for v in frame.get_column(column).to_list() if v is not None]
        assert values == [v.strip() for v in values]


def test_a_padded_code_is_stripped_and_accepted_and_a_clean_file_takes_the_fast_path():
    # GIVEN the same claim line, once with its code padded by blanks, once clean
    row = dict(VALID_ROWS[FileKind.MEDICAL_CLAIMS])
    padded = csv_bytes(FileKind.MEDICAL_CLAIMS, [row | {"hcpcs_code": f"  {row['hcpcs_code']} "}])
    clean = csv_bytes(FileKind.MEDICAL_CLAIMS, [row])
    # WHEN both are read
    results = [
        read_file(d, kind=FileKind.MEDICAL_CLAIMS, source_key="landing/medical_claims/p.csv")
        for d in (padded, clean)
    ]
    # THEN only the padded one needs stripping, and both accept the line with the same code
    assert may_be_padded(padded) and not may_be_padded(clean)
    assert [r.accepted.get_column("hcpcs_code").to_list() for r in results] == [[row["hcpcs_code"]]] * 2
