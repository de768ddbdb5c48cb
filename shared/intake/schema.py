"""Column and rule vocabulary for the file-kind schemas: what a column is and how it is checked."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class CodeFormat:
    """A code system's shape as an anchored regex and the reason a mismatch is rejected with."""

    pattern: str
    reason: Reason


NPI = CodeFormat(r"^\d{10}$", Reason.INVALID_NPI)
TIN = CodeFormat(r"^\d{9}$", Reason.INVALID_TIN)
# ICD-10-CM without the dot: a letter, a digit, then 1-5 more characters (3-7 in all).
ICD10CM = CodeFormat(r"^[A-Z]\d[0-9A-Z]{1,5}$", Reason.INVALID_ICD10)
# CPT category I (5 digits), category II/III (4 digits + F/T), HCPCS level II (letter + 4 digits).
HCPCS = CodeFormat(r"^(\d{5}|\d{4}[FT]|[A-Z]\d{4})$", Reason.INVALID_HCPCS)
MODIFIER = CodeFormat(r"^[0-9A-Z]{2}$", Reason.INVALID_MODIFIER)
POS = CodeFormat(r"^\d{2}$", Reason.INVALID_POS)
NDC11 = CodeFormat(r"^\d{11}$", Reason.INVALID_NDC)
CVX = CodeFormat(r"^\d{1,3}$", Reason.INVALID_CVX)
LOINC = CodeFormat(r"^\d{1,7}-\d$", Reason.INVALID_LOINC)
ACTION_CODE = CodeFormat(r"^[A-Z0-9][A-Z0-9-]{0,19}$", Reason.INVALID_FORMAT)

DATE_SHAPE = r"^\d{4}-\d{2}-\d{2}$"
INTEGER_SHAPE = r"^[+-]?\d{1,9}$"
MONEY_SHAPE = r"^-?\d{1,15}(\.\d{1,2})?$"
QUANTITY_SHAPE = r"^\d{1,12}(\.\d{1,3})?$"
MONEY_DTYPE = pl.Decimal(18, 2)
QUANTITY_DTYPE = pl.Decimal(18, 3)


@dataclass(frozen=True)
class Column:
    """One column of a kind: its type, whether it is required and the checks on its value."""

    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    code: CodeFormat | None = None
    allowed: frozenset[str] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def dtype(self) -> pl.DataType:
        """The polars dtype of the accepted column."""
        return {
            ColumnType.STRING: pl.String(),
            ColumnType.DATE: pl.Date(),
            ColumnType.INTEGER: pl.Int64(),
            ColumnType.MONEY: MONEY_DTYPE,
            ColumnType.QUANTITY: QUANTITY_DTYPE,
        }[self.type]


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

    def polars_schema(self) -> dict[str, pl.DataType]:
        """The typed schema of accepted rows (without `source_row`)."""
        return {c.name: c.dtype() for c in self.columns}
