"""Row validation as column expressions: one reason column per field, then typed values.

No Python runs per row. Each field gets at most one reason (the first check it fails, then its
cross-field rules), so a row with several bad fields yields one reject line per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from shared.intake.kinds import AS_OF
from shared.intake.parsing import SOURCE_ROW
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

REJECT_SCHEMA = {SOURCE_ROW: pl.Int64, "field": pl.String, "reason_code": pl.String}
_REASON = "__reason__"


def _reason_col(name: str) -> str:
    return f"{_REASON}{name}"


def _shape_checks(column: Column) -> list[tuple[pl.Expr, Reason]]:
    """(is-bad expression, reason) pairs for a present value, in the order they are tried."""
    value = pl.col(column.name)
    checks: list[tuple[pl.Expr, Reason]] = []
    if column.type is ColumnType.DATE:
        parsed = value.str.to_date("%Y-%m-%d", strict=False)
        checks.append((~value.str.contains(DATE_SHAPE) | parsed.is_null(), Reason.INVALID_DATE))
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
    if column.code is not None:
        checks.append((~value.str.contains(column.code.pattern), column.code.reason))
    if column.allowed is not None:
        checks.append((~value.is_in(sorted(column.allowed)), Reason.NOT_ALLOWED))
    return checks


def field_reason(column: Column) -> pl.Expr:
    """The reason code for one field of each row, or null when the field is fine."""
    value = pl.col(column.name)
    chain: Any = None
    if column.required:
        chain = pl.when(value.is_null()).then(pl.lit(Reason.MISSING_REQUIRED.value))
    for bad, reason in _shape_checks(column):
        cond = value.is_not_null() & bad
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(reason.value))
    if chain is None:
        return pl.lit(None, pl.String)
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
    value = pl.col(name).str.strip_chars() if strip else pl.col(name)
    return value.replace("", None).alias(name)


@dataclass(frozen=True)
class Validated:
    """A raw frame split into rows that passed every field rule and their reject lines."""

    valid: pl.DataFrame
    rejects: pl.DataFrame


def validate(raw: pl.DataFrame, schema: KindSchema, *, as_of: date, strip: bool = True) -> Validated:
    """Type and check every row of `raw` (source_row + string columns) against `schema`.

    Values are stripped of surrounding whitespace first, unless `strip` is False because the parser knows
    no value has any (`shared.intake.parsing.may_be_padded`).
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
    frame = (
        raw.lazy()
        .with_columns(_clean(name, strip) for name in schema.names)
        .with_columns(
            *(field_reason(c).alias(_reason_col(c.name)) for c in schema.columns),
            *(typed_value(c).alias(c.name) for c in schema.columns),
            pl.lit(as_of, pl.Date).alias(AS_OF),
        )
        .with_columns(combined)
        .with_columns(pl.any_horizontal(pl.col(reasons).is_not_null()).alias("__bad"))
        .drop(AS_OF)
        .collect()
    )
    valid = frame.filter(~pl.col("__bad")).select(SOURCE_ROW, *schema.names)
    rejects = (
        frame.filter(pl.col("__bad"))
        .select(SOURCE_ROW, *reasons)
        .unpivot(index=SOURCE_ROW, variable_name="field", value_name="reason_code")
        .drop_nulls("reason_code")
        .with_columns(pl.col("field").str.strip_prefix(_REASON))
    )
    return Validated(valid=valid, rejects=rejects.cast(REJECT_SCHEMA))  # type: ignore[arg-type]
