"""Bytes to a raw all-string frame: gzip, encoding, CSV/JSON Lines/Parquet, the CSV trailer.

Every failure here is a whole-file problem and becomes a `QuarantineError`. Messages from the parsers
are dropped on purpose: they can quote the file's content.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import zlib
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from shared.intake.errors import QuarantineError
from shared.intake.schema import KindSchema

SOURCE_ROW = "source_row"
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
TRAILER_PREFIX = b"#TRAILER,"
_CHUNK = 8 * 1024 * 1024
_NON_BLANK = re.compile(rb"\S")
_BLANK_BYTES = frozenset(b" \t\r\n")
_PARSE_ERRORS = (pl.exceptions.PolarsError, ValueError, OverflowError, OSError, TypeError, IndexError)


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


MAX_FILE_BYTES = 640 * 1024 * 1024
"""Largest file (uncompressed) any ingest takes, about 4.5M claim lines; larger drops arrive in parts.
A function with less memory takes less (`max_file_bytes`)."""
PEAK_BYTES_PER_FILE_BYTE = 12
"""Peak memory of an ingest per byte of the file, measured on generated claims: 1M lines (141 MB) peaked
at 1.8 GB, 4M lines (566 MB) at 6.3 GB, the Python runtime included."""
RUNTIME_RESERVE_MB = 512
MEMORY_SIZE_VARIABLE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"


def max_file_bytes(memory_mb: int | None = None) -> int:
    """The largest file one ingest takes in a function of `memory_mb` MB, never over MAX_FILE_BYTES.

    By default the running Lambda function's memory (the runtime sets `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`);
    outside Lambda (the CLI, tests, the local runtime) MAX_FILE_BYTES. A file its function cannot hold is
    quarantined with a reason instead of failing out of memory on every retry.
    """
    if memory_mb is None:
        configured = os.environ.get(MEMORY_SIZE_VARIABLE, "")
        if not configured.isdigit():
            return MAX_FILE_BYTES
        memory_mb = int(configured)
    fits = (memory_mb - RUNTIME_RESERVE_MB) * 1024 * 1024 // PEAK_BYTES_PER_FILE_BYTE
    return max(0, min(MAX_FILE_BYTES, fits))


def _too_large(limit: int) -> QuarantineError:
    return QuarantineError("TOO_LARGE", f"file is over {limit} bytes uncompressed; drop it in parts")


def gunzip_if_needed(data: bytes, limit: int | None = None) -> bytes:
    """Decompress gzip content (detected by its magic bytes, not the file name), never past `limit`
    bytes (default `max_file_bytes()`); content over the limit is TOO_LARGE either way."""
    limit = max_file_bytes() if limit is None else limit
    if not data.startswith(GZIP_MAGIC):
        if len(data) > limit:
            raise _too_large(limit)
        return data
    out = bytearray()
    rest = data
    try:
        while rest.startswith(GZIP_MAGIC):  # a gzip file may hold several members back to back
            member = zlib.decompressobj(wbits=31)
            out += member.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise _too_large(limit)
            if not member.eof:
                raise QuarantineError("TRUNCATED_GZIP", "gzip stream ends early")
            rest = member.unused_data
    except zlib.error:
        raise QuarantineError("UNREADABLE", "corrupt gzip stream") from None
    if rest.strip(b"\x00"):
        raise QuarantineError("UNREADABLE", "bytes after the gzip stream")
    return bytes(out)


def detect_format(data: bytes) -> FileFormat:
    """Parquet by its magic bytes, JSON Lines when the first non-blank byte opens an object, else CSV."""
    if data.startswith(PARQUET_MAGIC) and data.endswith(PARQUET_MAGIC):
        return FileFormat.PARQUET
    first = _NON_BLANK.search(data)
    if first is not None and first.group() == b"{":
        return FileFormat.JSONL
    return FileFormat.CSV


def is_blank(data: bytes) -> bool:
    """True for no bytes or only whitespace, without copying the data."""
    return _NON_BLANK.search(data) is None


def check_utf8(data: bytes) -> None:
    """Raise BAD_ENCODING unless the bytes are valid UTF-8; decodes in chunks to bound memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(data[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise QuarantineError("BAD_ENCODING", "not valid UTF-8") from None


def split_trailer(data: bytes) -> tuple[bytes, int | None]:
    """Cut an optional last line `#TRAILER,<row count>` off a CSV and return the promised count."""
    end = len(data)
    while end > 0 and data[end - 1] in _BLANK_BYTES:
        end -= 1
    cut = data.rfind(b"\n", 0, end) + 1
    last = data[cut:end].strip()
    if not last.startswith(TRAILER_PREFIX):
        return data, None
    count = last[len(TRAILER_PREFIX) :].strip()
    if not count.isdigit():
        raise QuarantineError("TRAILER_MISMATCH", "trailer count is not a whole number")
    return data[:cut], int(count)


def _normal_name(name: str) -> str:
    return name.strip().lower()


def _read_csv(data: bytes) -> pl.DataFrame:
    body, expected = split_trailer(data)
    if is_blank(body):
        raise QuarantineError("EMPTY_FILE", "no header and no rows")
    frame = pl.read_csv(
        body,
        infer_schema=False,
        row_index_name=SOURCE_ROW,
        row_index_offset=1,
        with_column_names=lambda cols: [_normal_name(c) for c in cols],
        empty_string_is_null=True,
    )
    if expected is not None and expected != frame.height:
        raise QuarantineError(
            "TRAILER_MISMATCH", f"trailer promises {expected} rows, file has {frame.height}"
        )
    return frame


def _read_jsonl(data: bytes, schema: KindSchema) -> pl.DataFrame:
    frame = pl.read_ndjson(
        data,
        schema=dict.fromkeys(schema.names, pl.String),
        row_index_name=SOURCE_ROW,
        row_index_offset=1,
    )
    # A key that no line carries is a missing column; JSON Lines has no header to tell us otherwise.
    for name in schema.required:
        if frame.height and frame.get_column(name).null_count() == frame.height:
            raise QuarantineError("MISSING_COLUMN", f"column {name} is absent")
    return frame


def _read_parquet(data: bytes) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(data))
    frame = frame.rename({c: _normal_name(c) for c in frame.columns})
    return frame.select(pl.all().cast(pl.String)).with_row_index(SOURCE_ROW, offset=1)


def may_be_padded(data: bytes) -> bool:
    """False when no CSV value can start or end with whitespace because the bytes hold no blank, tab
    or quote at all (a quoted value can hide any of them). Three single-byte searches (memchr, about
    10 ms per 100 MB); most claims files pass, and then validation need not strip every value."""
    return any(byte in data for byte in (b" ", b"\t", b'"'))


@dataclass(frozen=True)
class RawFrame:
    """A parsed file: `source_row` + every schema column as nullable strings."""

    frame: pl.DataFrame
    padded: bool
    """True when values may carry leading or trailing whitespace (always, for JSON Lines and Parquet)."""


def read_raw(data: bytes, schema: KindSchema) -> RawFrame:
    """Parse a file's bytes into `source_row` + every schema column as nullable strings."""
    data = gunzip_if_needed(data).removeprefix(UTF8_BOM)
    if is_blank(data):
        raise QuarantineError("EMPTY_FILE", "file has no content")
    fmt = detect_format(data)
    # polars rejects invalid UTF-8 in a CSV itself; the separate pass only runs to name the failure.
    if fmt is FileFormat.JSONL:
        check_utf8(data)
    try:
        if fmt is FileFormat.PARQUET:
            frame = _read_parquet(data)
        elif fmt is FileFormat.JSONL:
            frame = _read_jsonl(data, schema)
        else:
            frame = _read_csv(data)
    except QuarantineError:
        if fmt is FileFormat.CSV:
            check_utf8(data)
        raise
    except _PARSE_ERRORS:
        if fmt is FileFormat.CSV:
            check_utf8(data)
        raise QuarantineError("UNREADABLE", f"not a readable {fmt.value} file") from None
    if fmt is FileFormat.CSV:
        # polars checks the values it reads, not the header names.
        check_utf8(data[: data.find(b"\n") + 1 or len(data)])
    if frame.height == 0:
        raise QuarantineError("EMPTY_FILE", "file has no data rows")
    for name in schema.required:
        if name not in frame.columns:
            raise QuarantineError("MISSING_COLUMN", f"column {name} is absent")
    missing = [pl.lit(None, pl.String).alias(c) for c in schema.names if c not in frame.columns]
    typed = frame.with_columns(missing).select(pl.col(SOURCE_ROW).cast(pl.Int64), *schema.names)
    return RawFrame(typed, padded=fmt is not FileFormat.CSV or may_be_padded(data))
