"""JSON Lines as raw batches: one object per line, keys matched to columns as CSV headers are.

Each line is parsed by Python's `json` with numbers kept as the text the file spells (no float ever holds
a value); keys are trimmed and lower-cased, and a key that repeats on a line (exactly or after folding)
is DUPLICATE_COLUMN. An object or array where a value belongs becomes the NESTED marker, which
validation rejects for that field. A required key absent or null on every line is MISSING_COLUMN.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import polars as pl

from shared.intake.csv_stream import UTF8_BOM, RawBatch, normal_name
from shared.intake.errors import QuarantineError
from shared.intake.line_stream import check_utf8, line_pieces
from shared.intake.schema import KindSchema
from shared.intake.validation import NESTED, SOURCE_ROW


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        folded = normal_name(key)
        if folded in found:
            raise _DuplicateKeyError(folded)
        found[folded] = value
    return found


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_pairs, parse_float=str, parse_int=str)


def _value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return NESTED
    return str(value)


class JsonLinesStream:
    """Raw batches of one JSON Lines file's content (already inflated)."""

    def __init__(self, content: Iterator[bytes], schema: KindSchema) -> None:
        self._content = content
        self._schema = schema
        self._rows = 0
        self._seen: set[str] = set()

    def batches(self) -> Iterator[RawBatch]:
        """Every line's object as a row of strings, in order."""
        names = self._schema.names
        for piece, first_line in line_pieces(self._content):
            if first_line == 1:
                piece = piece.removeprefix(UTF8_BOM)
            check_utf8(piece, first_line)
            columns: dict[str, list[str | None]] = {name: [] for name in names}
            for offset, raw in enumerate(piece.decode("utf-8").split("\n")):
                text = raw.strip()
                if not text:
                    continue
                line = first_line + offset
                try:
                    record = _loads(text)
                except _DuplicateKeyError as duplicate:
                    known = duplicate.key in set(names)
                    what = f"key {duplicate.key}" if known else "a key"
                    raise QuarantineError(
                        "DUPLICATE_COLUMN", f"{what} appears more than once on line {line}"
                    ) from None
                except (json.JSONDecodeError, RecursionError):
                    raise QuarantineError("UNREADABLE", f"line {line} is not JSON") from None
                if not isinstance(record, dict):
                    raise QuarantineError("UNREADABLE", f"line {line} is not a JSON object")
                for name in names:
                    value = _value(record.get(name))
                    columns[name].append(value)
                    if value is not None:
                        self._seen.add(name)
            height = len(columns[names[0]]) if names else 0
            if not height:
                continue
            start = self._rows + 1
            self._rows += height
            frame = pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String))
            yield RawBatch(
                frame.select(pl.int_range(start, start + height, dtype=pl.Int64).alias(SOURCE_ROW), *names),
                padded=True,
            )
        if self._rows == 0:
            raise QuarantineError("EMPTY_FILE", "file has no data rows")
        for name in self._schema.required:
            if name not in self._seen:
                raise QuarantineError("MISSING_COLUMN", f"column {name} is absent")
