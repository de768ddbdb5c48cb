"""A CSV as a stream of raw batches: header once, then pieces of whole rows parsed by polars.

The content arrives in chunks (`shared.intake.source`); it is cut into pieces of about PIECE_BYTES at a
line break outside any quoted value (quote parity), so a row is never split. Each piece is parsed on
its own into strings. A row with more or fewer fields than the header is flagged ragged (its reject
line names no field); empty lines are not rows. Whole-file problems (no header, a duplicate column, a
row that never ends, invalid UTF-8) name the line and never quote the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from shared.intake.errors import QuarantineError
from shared.intake.schema import KindSchema
from shared.intake.validation import RAGGED, SOURCE_ROW

PIECE_BYTES = 16 * 1024 * 1024
MAX_ROW_BYTES = 64 * 1024 * 1024
"""A row longer than this is a file whose quoting never closes: quarantined, never held in memory."""
UTF8_BOM = b"\xef\xbb\xbf"
TRAILER_PREFIX = b"#TRAILER,"
_QUOTE = b'"'
_PARSE_ERRORS = (pl.exceptions.PolarsError, ValueError, OverflowError, OSError, TypeError, IndexError)
_BLANK_LINE_MARKS = (b"\n\n", b"\n\r\n")


@dataclass(frozen=True)
class RawBatch:
    """Rows of a file as strings: `source_row`, every schema column (null when absent), maybe RAGGED."""

    frame: pl.DataFrame
    padded: bool
    """True when some value may carry surrounding blanks (validation then strips them)."""


def may_be_padded(data: bytes) -> bool:
    """False when no value can start or end with a blank or tab: the bytes hold none, nor a quote (a
    quoted value can hide anything). Three single-byte searches (memchr)."""
    return any(byte in data for byte in (b" ", b"\t", _QUOTE))


def normal_name(name: str) -> str:
    """A column name as the schema spells it: trimmed and lower-cased."""
    return name.strip().lower()


def column_positions(names: list[str], schema: KindSchema) -> dict[str, int]:
    """Where each schema column sits among the file's columns; DUPLICATE_COLUMN if a name repeats
    (exactly or after case folding), MISSING_COLUMN if a required one is absent.

    A known column is named in the detail; an unknown one only by position, since a file without a
    header would otherwise have its first row quoted."""
    seen: dict[str, int] = {}
    known = set(schema.names)
    for position, name in enumerate(names):
        folded = normal_name(name)
        if not folded:
            continue  # unnamed columns (a trailing comma) are ignored, however many
        if folded in seen:
            if folded in known:
                raise QuarantineError("DUPLICATE_COLUMN", f"column {folded} appears more than once")
            raise QuarantineError(
                "DUPLICATE_COLUMN",
                f"columns {seen[folded] + 1} and {position + 1} have the same name (an unknown column)",
            )
        seen[folded] = position
    for name in schema.required:
        if name not in seen:
            raise QuarantineError("MISSING_COLUMN", f"column {name} is absent")
    return {name: seen[name] for name in schema.names if name in seen}


def _check_utf8(data: bytes, first_line: int) -> None:
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise QuarantineError("BAD_ENCODING", f"not valid UTF-8 on line {line}") from None


def _record_end(data: bytes, start: int = 0) -> int:
    """Index of the last line break in `data[start:]` outside quotes (data starts outside quotes), or -1."""
    pos = data.rfind(b"\n", start)
    if pos < 0 or _QUOTE not in data:
        return pos
    quotes = data.count(_QUOTE, 0, pos)
    while pos >= start and quotes % 2:
        earlier = data.rfind(b"\n", start, pos)
        if earlier < 0:
            return -1
        quotes -= data.count(_QUOTE, earlier, pos)
        pos = earlier
    return pos if pos >= start else -1


def _first_record_end(data: bytes) -> int:
    """Index of the first line break outside quotes, or -1."""
    pos = data.find(b"\n")
    if pos < 0 or _QUOTE not in data:
        return pos
    quotes = data.count(_QUOTE, 0, pos)
    while pos >= 0 and quotes % 2:
        later = data.find(b"\n", pos + 1)
        if later < 0:
            return -1
        quotes += data.count(_QUOTE, pos, later)
        pos = later
    return pos


def _without_blank_lines(piece: bytes) -> tuple[bytes, int]:
    """The piece without its empty lines (only a line break, or CR LF), and how many there were."""
    if not (piece.startswith((b"\n", b"\r\n")) or any(m in piece for m in _BLANK_LINE_MARKS)):
        return piece, 0
    lines = piece.split(b"\n")
    ends_open = bool(lines[-1]) and lines[-1] != b"\r"
    kept = [line for line in lines if line not in (b"", b"\r")]
    removed = len(lines) - len(kept) - (0 if ends_open else 1)
    text = b"\n".join(kept)
    return (text + b"\n" if kept and not ends_open else text), removed


def split_trailer(data: bytes) -> tuple[bytes, int | None]:
    """Cut an optional last line `#TRAILER,<row count>` off a CSV and return the promised count."""
    end = len(data)
    while end > 0 and data[end - 1] in b" \t\r\n":
        end -= 1
    cut = data.rfind(b"\n", 0, end) + 1
    last = data[cut:end].strip()
    if not last.startswith(TRAILER_PREFIX):
        return data, None
    count = last[len(TRAILER_PREFIX) :].strip()
    if not count.isdigit() or not count.isascii():
        raise QuarantineError("TRAILER_MISMATCH", "trailer count is not a whole number")
    return data[:cut], int(count)


_NON_BLANK = re.compile(rb"[^ \t\r\n]")


def _is_blank(data: bytes) -> bool:
    return _NON_BLANK.search(data) is None


class CsvStream:
    """Raw batches of one CSV's content (already inflated), for one kind's schema."""

    def __init__(self, content: Iterator[bytes], schema: KindSchema, piece_bytes: int = PIECE_BYTES) -> None:
        self._content = content
        self._schema = schema
        self._piece_bytes = piece_bytes
        self._rows = 0
        self._line = 1  # physical line where the next unparsed byte starts
        self._ncols = 0
        self._positions: dict[str, int] = {}
        self.expected_rows: int | None = None
        """What the trailer promised, once the file has been read to its end."""

    @property
    def rows(self) -> int:
        """Data rows read so far."""
        return self._rows

    def batches(self) -> Iterator[RawBatch]:
        """Every data row, in order, in batches of about `piece_bytes`; the trailer (if any) is checked
        at the end. Pieces are cut at a line break outside quotes; one piece is held back, since the
        trailer can only be told from a row once nothing follows it."""
        buffer = b""
        parts: list[bytes] = []
        size = 0
        header_done = False
        held: bytes | None = None
        for chunk in self._content:
            parts.append(chunk)
            size += len(chunk)
            if header_done and size < self._piece_bytes:
                continue
            buffer = b"".join([buffer, *parts])
            parts, size = [], 0
            if not header_done:
                found = self._take_header(buffer, final=False)
                if found is None:
                    continue
                buffer, header_done = found, True
            end = _record_end(buffer)
            if end < 0:
                if len(buffer) > MAX_ROW_BYTES:
                    line = self._line + (held.count(b"\n") if held else 0)
                    raise QuarantineError(
                        "UNREADABLE", f"the row starting on line {line} never ends (an unterminated quote?)"
                    )
                continue
            piece, buffer = buffer[: end + 1], buffer[end + 1 :]
            if held is not None:
                if _is_blank(piece):
                    held += piece
                    continue
                batch = self._parse(held)
                if batch is not None:
                    yield batch
            held = piece
        buffer = b"".join([buffer, *parts])
        if not header_done:
            found = self._take_header(buffer, final=True)
            assert found is not None
            buffer = found
        if buffer.count(_QUOTE) % 2:
            line = self._line + (held.count(b"\n") if held else 0)
            raise QuarantineError("UNREADABLE", f"the row starting on line {line} has an unterminated quote")
        body, self.expected_rows = split_trailer((held or b"") + buffer)
        batch = self._parse(body)
        if batch is not None:
            yield batch
        if self.expected_rows is not None and self.expected_rows != self._rows:
            raise QuarantineError(
                "TRAILER_MISMATCH", f"trailer promises {self.expected_rows} rows, file has {self._rows}"
            )
        if self._rows == 0:
            raise QuarantineError("EMPTY_FILE", "a header with no data rows")

    def _take_header(self, buffer: bytes, *, final: bool) -> bytes | None:
        """Read the header line (after a BOM and any blank lines) and return what follows it; None when
        more bytes are needed to find its end."""
        rest = buffer.removeprefix(UTF8_BOM)
        stripped = rest.lstrip(b" \t\r\n")
        if not stripped:
            if final:
                raise QuarantineError("EMPTY_FILE", "file has no content")
            return None
        end = _first_record_end(stripped)
        if end < 0:
            _check_utf8(stripped, self._line)
            if b"\r" in stripped:
                raise QuarantineError(
                    "UNREADABLE", "lines end with a carriage return only; end them with LF or CR LF"
                )
            if final:
                raise QuarantineError("EMPTY_FILE", "a header with no data rows")
            if len(stripped) > MAX_ROW_BYTES:
                raise QuarantineError("UNREADABLE", "the header line never ends (an unterminated quote?)")
            return None
        header = stripped[:end]
        self._line += rest.count(b"\n", 0, len(rest) - len(stripped))
        self._read_header(header, self._line)
        self._line += header.count(b"\n") + 1
        return stripped[end + 1 :]

    def _read_header(self, header: bytes, line: int) -> None:
        _check_utf8(header, line)
        text = header.decode("utf-8").strip("\r\n \t")
        try:
            names = next(csv.reader([text], strict=True), [])
        except csv.Error:
            raise QuarantineError("UNREADABLE", "the header line is not CSV") from None
        self._ncols = len(names)
        self._positions = column_positions(names, self._schema)

    def _parse(self, piece: bytes) -> RawBatch | None:
        first_line = self._line
        _check_utf8(piece, first_line)
        quoted = _QUOTE in piece
        lines = piece.count(b"\n") if quoted else 0
        original = piece
        piece, blanks = _without_blank_lines(piece)
        if _is_blank(piece):
            self._line += lines if quoted else blanks
            return None
        frame, ragged = self._polars(piece, quoted)
        if frame is None:
            frame, ragged = self._python(original, first_line)
        height = frame.height
        # Unquoted, every row is one line: the line count follows from the rows without counting.
        self._line += lines if quoted else height + blanks
        start = self._rows + 1
        self._rows += height
        columns = [
            pl.col(f"c{self._positions[name]}").alias(name)
            if name in self._positions
            else pl.lit(None, pl.String).alias(name)
            for name in self._schema.names
        ]
        out = frame.select(pl.int_range(start, start + height, dtype=pl.Int64).alias(SOURCE_ROW), *columns)
        if ragged is not None and ragged.any():
            out = out.with_columns(ragged.alias(RAGGED))
        return RawBatch(out, padded=may_be_padded(piece))

    def _polars(self, piece: bytes, quoted: bool) -> tuple[pl.DataFrame | None, pl.Series | None]:
        """Parse with polars; (None, None) when polars cannot (the Python parser then tries)."""
        schema = {f"c{i}": pl.String for i in range(self._ncols)}
        options = {"has_header": False, "schema": schema, "infer_schema": False, "missing_columns": "insert"}
        try:
            frame = pl.read_csv(piece, **options)  # type: ignore[arg-type]
        except _PARSE_ERRORS:
            frame = None
        # Polars refuses a row with too many fields; with none too long, the comma count is that of whole
        # rows only if none has too few.
        if frame is not None and not quoted and piece.count(b",") == frame.height * (self._ncols - 1):
            return frame, None
        if frame is None:
            try:
                frame = pl.read_csv(
                    piece,
                    truncate_ragged_lines=True,
                    extra_columns="ignore",
                    **options,  # type: ignore[arg-type]
                )
            except _PARSE_ERRORS:
                return None, None
        counts = _field_counts(piece, quoted)
        if counts.len() != frame.height:
            return None, None
        return frame, counts != self._ncols

    def _python(self, piece: bytes, first_line: int) -> tuple[pl.DataFrame, pl.Series]:
        """Python's strict CSV reader for a piece polars could not read (stray or unclosed quotes)."""
        reader = csv.reader(io.StringIO(piece.decode("utf-8"), newline=""), strict=True)
        rows: list[list[str]] = []
        try:
            rows.extend(row for row in reader if row)
        except csv.Error:
            line = first_line + reader.line_num - 1
            raise QuarantineError("UNREADABLE", f"malformed quoting on line {line}") from None
        columns = {
            f"c{i}": [row[i] if i < len(row) and row[i] != "" else None for row in rows]
            for i in range(self._ncols)
        }
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
        return frame, pl.Series([len(row) != self._ncols for row in rows], dtype=pl.Boolean)


def _field_counts(piece: bytes, quoted: bool) -> pl.Series:
    """Fields per row of a piece: commas per line, once quoted values (which may hold commas and line
    breaks) are taken out."""
    series = pl.Series([piece.decode("utf-8").rstrip("\n")], dtype=pl.String)
    if quoted:
        series = series.str.replace_all(r'"[^"]*"', "")
    lines = series.str.split("\n").explode()
    return lines.str.count_matches(",", literal=True) + 1
