"""Column and rule vocabulary for the file-kind schemas: what a column is and how it is checked.

Every string column has a maximum length and an alphabet: ids are letters, digits and `-_.` (no leading
dot or dash, no `..`), codes follow their code system, enumerations their list, and free text refuses
control characters. Digits are ASCII (`[0-9]`): the regex engine's `\\d` matches any script's digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import polars as pl


class ColumnType(StrEnum):
    """How a column's string is typed after it passes its checks."""

    STRING = "string"
    DATE = "date"
    INTEGER = "integer"
    MONEY = "money"
    QUANTITY = "quantity"


class Reason(StrEnum):
    """Row-level reject reason codes; a reject line carries one of these, never the value."""

    MISSING_REQUIRED = "MISSING_REQUIRED"
    TOO_LONG = "TOO_LONG"
    NESTED_VALUE = "NESTED_VALUE"
    INVALID_ID = "INVALID_ID"
    INVALID_TEXT = "INVALID_TEXT"
    INVALID_FORMAT = "INVALID_FORMAT"
    INVALID_NPI = "INVALID_NPI"
    INVALID_TIN = "INVALID_TIN"
    INVALID_ICD10 = "INVALID_ICD10"
    INVALID_HCPCS = "INVALID_HCPCS"
    INVALID_MODIFIER = "INVALID_MODIFIER"
    INVALID_POS = "INVALID_POS"
    INVALID_NDC = "INVALID_NDC"
    INVALID_CVX = "INVALID_CVX"
    INVALID_LOINC = "INVALID_LOINC"
    INVALID_CODE = "INVALID_CODE"
    INVALID_DATE = "INVALID_DATE"
    INVALID_INTEGER = "INVALID_INTEGER"
    INVALID_DECIMAL = "INVALID_DECIMAL"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_ALLOWED = "NOT_ALLOWED"
    END_BEFORE_START = "END_BEFORE_START"
    ORIGINAL_CLAIM_REQUIRED = "ORIGINAL_CLAIM_REQUIRED"
    BIRTH_DATE_IN_FUTURE = "BIRTH_DATE_IN_FUTURE"
    BIRTH_AFTER_ENROLLMENT = "BIRTH_AFTER_ENROLLMENT"
    NOT_NUMERIC = "NOT_NUMERIC"
    KEY_CONFLICT = "KEY_CONFLICT"
    RAGGED_ROW = "RAGGED_ROW"
    """A CSV row with more or fewer fields than the header (charged to no field)."""


@dataclass(frozen=True)
class CodeFormat:
    """A value's shape as an anchored regex, the reason a mismatch is rejected with, and its longest
    length in bytes (checked first, so no pattern ever runs over a huge value)."""

    pattern: str
    reason: Reason
    max_length: int = 64


ID_MAX = 64
ENUM_MAX = 64
TEXT_MAX = 200
# Ids: segments of letters, digits, `_` and `-` joined by single dots, not starting with `-`; so an id can
# never be `.`, `..`, hold a path separator, or begin like a spreadsheet formula.
ID = CodeFormat(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$", Reason.INVALID_ID, ID_MAX)
TEXT = CodeFormat(r"^[^\p{Cc}]*$", Reason.INVALID_TEXT, TEXT_MAX)
"""Free text: anything but control characters (NUL, tabs, line breaks, C1), capped."""
TOKEN = CodeFormat(r"^[A-Za-z0-9_.:-]+$", Reason.INVALID_FORMAT, 64)
"""A code-like token of a system the engine does not check further (FHIR statuses, encounter classes)."""
REFERENCE = CodeFormat(r"^[!-~]+$", Reason.INVALID_FORMAT, 256)
"""A FHIR id or reference: printable ASCII without blanks."""
CODINGS = CodeFormat(r"^[!-~]+( [!-~]+)*$", Reason.INVALID_FORMAT, 2048)
"""`system|code` tokens separated by single blanks."""

NPI = CodeFormat(r"^[0-9]{10}$", Reason.INVALID_NPI)
TIN = CodeFormat(r"^[0-9]{9}$", Reason.INVALID_TIN)
# ICD-10-CM without the dot: a letter, a digit, then 1-5 more characters (3-7 in all).
ICD10CM = CodeFormat(r"^[A-Z][0-9][0-9A-Z]{1,5}$", Reason.INVALID_ICD10)
# CPT category I (5 digits), category II/III (4 digits + F/T), HCPCS level II (letter + 4 digits).
HCPCS = CodeFormat(r"^([0-9]{5}|[0-9]{4}[FT]|[A-Z][0-9]{4})$", Reason.INVALID_HCPCS)
CPT = CodeFormat(r"^([0-9]{5}|[0-9]{4}[FT])$", Reason.INVALID_HCPCS)
HCPCS_LEVEL2 = CodeFormat(r"^[A-Z][0-9]{4}$", Reason.INVALID_HCPCS)
MODIFIER = CodeFormat(r"^[0-9A-Z]{2}$", Reason.INVALID_MODIFIER)
POS = CodeFormat(r"^[0-9]{2}$", Reason.INVALID_POS)
NDC11 = CodeFormat(r"^[0-9]{11}$", Reason.INVALID_NDC)
CVX = CodeFormat(r"^[0-9]{1,3}$", Reason.INVALID_CVX)
LOINC = CodeFormat(r"^[0-9]{1,7}-[0-9]$", Reason.INVALID_LOINC)
SNOMED = CodeFormat(r"^[0-9]{6,18}$", Reason.INVALID_CODE)
RXNORM = CodeFormat(r"^[0-9]{1,12}$", Reason.INVALID_CODE)
# ICD-10-PCS: seven characters of digits and letters other than I and O.
ICD10PCS = CodeFormat(r"^[0-9A-HJ-NP-Z]{7}$", Reason.INVALID_CODE)
# Institutional claim codes (UB-04): type of bill (3 digits, or 4 with the leading zero), revenue code,
# patient discharge status, MS-DRG.
BILL_TYPE = CodeFormat(r"^[0-9]{3,4}$", Reason.INVALID_CODE, 4)
REVENUE_CENTER = CodeFormat(r"^[0-9]{4}$", Reason.INVALID_CODE, 4)
DISCHARGE_DISPOSITION = CodeFormat(r"^[0-9]{2}$", Reason.INVALID_CODE, 2)
MS_DRG = CodeFormat(r"^[0-9]{3}$", Reason.INVALID_CODE, 3)
# A NUCC provider taxonomy code: nine digits and capitals, then X.
TAXONOMY = CodeFormat(r"^[0-9A-Z]{9}X$", Reason.INVALID_CODE, 10)
ACTION_CODE = CodeFormat(r"^[A-Z0-9][A-Z0-9-]{0,19}$", Reason.INVALID_FORMAT, 20)
ZIP = CodeFormat(r"^[0-9]{5}(-[0-9]{4})?$", Reason.INVALID_FORMAT, 10)

DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
INTEGER_SHAPE = r"^[+-]?[0-9]{1,9}$"
MONEY_SHAPE = r"^-?[0-9]{1,15}(\.[0-9]{1,2})?$"
QUANTITY_SHAPE = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
NUMBER_MAX = 32
"""Longest text a date, integer, amount or quantity may be before its shape is even looked at."""
MONEY_DTYPE = pl.Decimal(18, 2)
QUANTITY_DTYPE = pl.Decimal(18, 3)


@dataclass(frozen=True)
class DateWindow:
    """The days a date column may hold, relative to the day the file is read (`as_of`): from `earliest`
    (a fixed day) or `years_back` years before, to `days_ahead` days after (None: no bound that side)."""

    earliest: date | None = None
    years_back: int | None = None
    days_ahead: int | None = None

    def bounds(self, as_of: date) -> tuple[date | None, date | None]:
        """The first and last allowed day for a file read on `as_of`."""
        first = self.earliest
        if self.years_back is not None:
            back = _years_before(as_of, self.years_back)
            first = back if first is None else max(first, back)
        last = None if self.days_ahead is None else as_of + timedelta(days=self.days_ahead)
        return first, last


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Column:
    """One column of a kind: its type, whether it is required and the checks on its value.

    A string column with neither `code` nor `allowed` is free text (`TEXT`).
    """

    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    code: CodeFormat | None = None
    allowed: frozenset[str] | None = None
    minimum: int | None = None
    maximum: int | None = None
    window: DateWindow | None = None
    optional_where: pl.Expr | None = field(default=None, compare=False)
    """For a required column, the rows whose value may be missing (over the raw values; the column must
    still be in the file): an institutional line with a revenue code needs no HCPCS code."""

    def dtype(self) -> pl.DataType:
        """The polars dtype of the accepted column."""
        return {
            ColumnType.STRING: pl.String(),
            ColumnType.DATE: pl.Date(),
            ColumnType.INTEGER: pl.Int64(),
            ColumnType.MONEY: MONEY_DTYPE,
            ColumnType.QUANTITY: QUANTITY_DTYPE,
        }[self.type]

    @property
    def shape(self) -> CodeFormat | None:
        """The alphabet and shape of a string column (free text when nothing else is said)."""
        if self.type is not ColumnType.STRING:
            return self.code
        if self.code is not None:
            return self.code
        return None if self.allowed is not None else TEXT

    @property
    def max_length(self) -> int:
        """The longest value in bytes: the code's, the longest listed value, or a number's bound."""
        if self.type is not ColumnType.STRING:
            return NUMBER_MAX
        if self.allowed is not None and self.code is None:
            # A listed value is matched whole, whatever its length; the cap only keeps huge ones out.
            return max(ENUM_MAX, *(len(v.encode()) for v in self.allowed))
        shape = self.shape
        assert shape is not None
        return shape.max_length


@dataclass(frozen=True)
class CrossRule:
    """A row-level rule over typed columns; `bad` is true where the row breaks it.

    The rule is charged to `field`; it only fires when that field passed its own checks, so a row
    gets at most one reject line per field.
    """

    field: str
    reason: Reason
    bad: pl.Expr


@dataclass(frozen=True)
class KindSchema:
    """Everything intake knows about one file kind."""

    columns: tuple[Column, ...]
    natural_key: tuple[str, ...] | None = None
    period_column: str | None = None
    cross_rules: tuple[CrossRule, ...] = field(default=())
    provenance: tuple[str, ...] = ()
    """Columns that say where a row sits in the file; two rows differing only there are duplicates."""
    member_column: str | None = "member_id"
    """The column whose value places a row with its member (rows of one member are applied together)."""
    shard_column: str | None = None
    """The column rows are reconciled by (default: the natural key's first); rows sharing a key, and a
    claim and the versions naming it, share its value."""

    @property
    def names(self) -> list[str]:
        """Column names in schema order."""
        return [c.name for c in self.columns]

    @property
    def content(self) -> list[str]:
        """Columns compared to tell a duplicate from a conflicting row."""
        return [c.name for c in self.columns if c.name not in self.provenance]

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)

    def polars_schema(self) -> dict[str, pl.DataType]:
        """The typed schema of accepted rows (without `source_row`)."""
        return {c.name: c.dtype() for c in self.columns}
