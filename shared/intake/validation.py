"""Row validation as column expressions: one reason column per field, then typed values.

No Python runs per row. Each field gets at most one reason (the first check it fails, then its
cross-field rules), so a row with several bad fields yields one reject line per field. A ragged row
(more or fewer fields than the header) gets one line with an empty field and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from shared.intake.kinds import AS_OF
from shared.intake.schema import (
    DATE_SHAPE,
    INTEGER_SHAPE,
    MONEY_SHAPE,
    QUANTITY_SHAPE,
    Column,
    ColumnType,
    KindSchema,
    Reason,
)

SOURCE_ROW = "source_row"
RAGGED = "__ragged"
"""Boolean column a parser adds when some rows had the wrong number of fields."""
NESTED = "\x00\x01nested\x01\x00"
"""What a parser puts in place of a JSON object or array where a value belongs (NESTED_VALUE)."""
BLANKS = " \t"
"""What is stripped around every value: ASCII blanks and tabs only, so whether a value is accepted never
depends on what else the file holds (`may_be_padded` looks for exactly these bytes and quotes)."""
ROW_FIELD = ""
"""The field of a reject line that concerns the whole row."""
REJECT_SCHEMA = {SOURCE_ROW: pl.Int64, "field": pl.String, "reason_code": pl.String}
_REASON = "__reason__"


def _reason_col(name: str) -> str:
    return f"{_REASON}{name}"


def _shape_checks(column: Column, as_of: date) -> list[tuple[pl.Expr, Reason]]:
    """(is-bad expression, reason) pairs for a present value, in the order they are tried."""
    value = pl.col(column.name)
    checks: list[tuple[pl.Expr, Reason]] = [
        (value == NESTED, Reason.NESTED_VALUE),
        # Before any pattern runs: a 10 MB "id" is refused for its length, cheaply.
        (value.str.len_bytes() > column.max_length, Reason.TOO_LONG),
    ]
    if column.type is ColumnType.DATE:
        parsed = value.str.to_date("%Y-%m-%d", strict=False)
        checks.append((~value.str.contains(DATE_SHAPE) | parsed.is_null(), Reason.INVALID_DATE))
        if column.window is not None:
            first, last = column.window.bounds(as_of)
            if first is not None:
                checks.append(((parsed < first).fill_null(False), Reason.OUT_OF_RANGE))
            if last is not None:
                checks.append(((parsed > last).fill_null(False), Reason.OUT_OF_RANGE))
    elif column.type is ColumnType.INTEGER:
        checks.append((~value.str.contains(INTEGER_SHAPE), Reason.INVALID_INTEGER))
        number = value.cast(pl.Int64, strict=False)
        if column.minimum is not None:
            checks.append(((number < column.minimum).fill_null(False), Reason.OUT_OF_RANGE))
        if column.maximum is not None:
            checks.append(((number > column.maximum).fill_null(False), Reason.OUT_OF_RANGE))
    elif column.type is ColumnType.MONEY:
        checks.append((~value.str.contains(MONEY_SHAPE), Reason.INVALID_DECIMAL))
    elif column.type is ColumnType.QUANTITY:
        checks.append((~value.str.contains(QUANTITY_SHAPE), Reason.INVALID_DECIMAL))
    shape = column.shape
    if shape is not None:
        checks.append((~value.str.contains(shape.pattern), shape.reason))
    if column.allowed is not None:
        checks.append((~value.is_in(sorted(column.allowed)), Reason.NOT_ALLOWED))
    return checks


def field_reason(column: Column, as_of: date) -> pl.Expr:
    """The reason code for one field of each row, or null when the field is fine."""
    value = pl.col(column.name)
    chain: Any = None
    if column.required:
        missing = value.is_null()
        if column.optional_where is not None:
            missing = missing & ~column.optional_where.fill_null(False)
        chain = pl.when(missing).then(pl.lit(Reason.MISSING_REQUIRED.value))
    for bad, reason in _shape_checks(column, as_of):
        cond = value.is_not_null() & bad
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(reason.value))
    return chain.otherwise(pl.lit(None, pl.String))


def typed_value(column: Column) -> pl.Expr:
    """The column cast to its schema dtype; values that fail their checks become null."""
    value = pl.col(column.name)
    if column.type is ColumnType.DATE:
        return value.str.to_date("%Y-%m-%d", strict=False)
    if column.type is ColumnType.STRING:
        return value
    return value.cast(column.dtype(), strict=False)


def _clean(name: str, strip: bool) -> pl.Expr:
    value = pl.col(name).str.strip_chars(BLANKS) if strip else pl.col(name)
    return value.replace("", None).alias(name)


@dataclass(frozen=True)
class Validated:
    """A raw frame split into rows that passed every field rule and their reject lines."""

    valid: pl.DataFrame
    rejects: pl.DataFrame


def validate(raw: pl.DataFrame, schema: KindSchema, *, as_of: date, strip: bool = True) -> Validated:
    """Type and check every row of `raw` (source_row + string columns, maybe RAGGED) against a schema.

    Values are stripped of surrounding blanks and tabs first, unless `strip` is False because the parser
    knows no value has any (`shared.intake.csv_stream.may_be_padded`). Dates are checked against their
    windows relative to `as_of`, the day the file is read.
    """
    reasons = [_reason_col(c.name) for c in schema.columns]
    cross: dict[str, list[pl.Expr]] = {}
    for rule in schema.cross_rules:
        cross.setdefault(rule.field, []).append(
            pl.when(rule.bad).then(pl.lit(rule.reason.value)).otherwise(pl.lit(None, pl.String))
        )
    combined = [
        pl.coalesce(pl.col(_reason_col(name)), *rules).alias(_reason_col(name))
        for name, rules in cross.items()
    ]
    ragged = RAGGED in raw.columns
    row_reason = _reason_col(ROW_FIELD)
    frame = (
        raw.lazy()
        .with_columns(_clean(name, strip) for name in schema.names)
        .with_columns(
            *(field_reason(c, as_of).alias(_reason_col(c.name)) for c in schema.columns),
            *(typed_value(c).alias(c.name) for c in schema.columns),
            pl.lit(as_of, pl.Date).alias(AS_OF),
        )
        .with_columns(combined)
        .drop(AS_OF)
    )
    if ragged:
        # A row whose fields are shifted says nothing reliable about any one field: one line, no field.
        frame = frame.with_columns(
            *(pl.when(pl.col(RAGGED)).then(None).otherwise(pl.col(r)).alias(r) for r in reasons),
            pl.when(pl.col(RAGGED)).then(pl.lit(Reason.RAGGED_ROW.value)).alias(row_reason),
        )
        reasons = [row_reason, *reasons]
    collected = frame.with_columns(pl.any_horizontal(pl.col(reasons).is_not_null()).alias("__bad")).collect()
    valid = collected.filter(~pl.col("__bad")).select(SOURCE_ROW, *schema.names)
    rejects = (
        collected.filter(pl.col("__bad"))
        .select(SOURCE_ROW, *reasons)
        .unpivot(index=SOURCE_ROW, variable_name="field", value_name="reason_code")
        .drop_nulls("reason_code")
        .with_columns(pl.col("field").str.strip_prefix(_REASON))
    )
    return Validated(valid=valid, rejects=rejects.cast(REJECT_SCHEMA))  # type: ignore[arg-type]
