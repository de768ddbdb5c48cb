"""CSV cells a spreadsheet cannot take for a formula (OWASP, CSV injection).

Every CSV the engine writes goes through here: a cell whose text starts with `=`, `+`, `-`, `@`, a tab
or a carriage return (after any leading blanks) is written with a leading apostrophe, which a
spreadsheet shows as text and never evaluates. A negative amount (`-12.50`) is the one exception that
needs a number to stay a number: it is written with a leading blank (` -12.50`), which starts no
formula, and which decimal parsers (Python's `Decimal`, `float`, spreadsheets) still read as -12.50.
A carriage return inside a cell is written as a line break (so the cell is quoted), never bare: a bare one
ends the row for most readers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

import polars as pl

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")
_NEGATIVE_NUMBER_PATTERN = r"^-[0-9]+(\.[0-9]+)?$"
_DANGEROUS_PATTERN = r"^[ ]*[=+\-@\t\r]"


def csv_cell(value: object) -> str:
    """The text of one cell, safe to open in a spreadsheet (None is an empty cell)."""
    if value is None:
        return ""
    text = str(value)
    if not text.lstrip(" ").startswith(DANGEROUS_FIRST):
        return _line_breaks(text)
    if _NEGATIVE_NUMBER.fullmatch(text):
        return f" {text}"
    return _line_breaks(f"'{text}")


def _line_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def csv_cell_expr(column: pl.Expr) -> pl.Expr:
    """`csv_cell` as a polars expression over a column (for files written by polars)."""
    text = column.cast(pl.String)
    safe = (
        pl.when(text.str.contains(_NEGATIVE_NUMBER_PATTERN))
        .then(pl.lit(" ") + text)
        .when(text.str.contains(_DANGEROUS_PATTERN))
        .then(pl.lit("'") + text)
        .otherwise(text)
    )
    return safe.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]], banner: str | None = None) -> bytes:
    """A whole CSV (UTF-8, LF line ends) with every cell, header included, made safe by `csv_cell`;
    `banner`, when given, is a first line starting with `#` that says what the file is not."""
    buffer = io.StringIO()
    if banner:
        buffer.write(f"# {csv_cell(banner)}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")
