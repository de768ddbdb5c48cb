"""Invalid UTF-8 anywhere in a CSV is BAD_ENCODING, although only failures run the separate check."""

from __future__ import annotations

import pytest

from shared.intake import QuarantineError, read_file
from shared.models.files import FileKind

HEADER = b"member_id,loinc_code,result_value,result_date\n"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",
        HEADER + b'M1,"4548-4\xff",7,2026-01-01\n',
        HEADER + b"\xc3",
        b"\xff" + HEADER + b"M1,1-1,7,2026-01-01\n",
        b"\xff" + HEADER + b"M1,1-1,7,2026-01-01\n#TRAILER,5\n",
    ],
)
def test_invalid_utf8_in_header_values_or_alone_is_bad_encoding(body):
    # GIVEN a labs CSV with an invalid UTF-8 sequence somewhere
    # WHEN it is read
    with pytest.raises(QuarantineError) as raised:
        read_file(body, kind=FileKind.LABS, source_key="landing/labs/x.csv")
    # THEN the reason names the encoding, whatever else is wrong with the file
    assert raised.value.reason_code == "BAD_ENCODING"
