"""Line-delimited content (JSON Lines, FHIR Bulk Data NDJSON) cut into pieces of whole lines.

A JSON text holds no raw line break, so every line break ends a record. Pieces come with the number of
the line they start on, so a problem can name its line.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.intake.errors import QuarantineError

PIECE_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024


def line_pieces(content: Iterator[bytes], piece_bytes: int = PIECE_BYTES) -> Iterator[tuple[bytes, int]]:
    """(piece, number of its first line): whole lines, about `piece_bytes` each."""
    buffer = b""
    parts: list[bytes] = []
    size = 0
    line = 1
    for chunk in content:
        parts.append(chunk)
        size += len(chunk)
        if size < piece_bytes:
            continue
        buffer = b"".join([buffer, *parts])
        parts, size = [], 0
        end = buffer.rfind(b"\n")
        if end < 0:
            if len(buffer) > MAX_LINE_BYTES:
                raise QuarantineError("UNREADABLE", f"line {line} is longer than {MAX_LINE_BYTES} bytes")
            continue
        piece, buffer = buffer[: end + 1], buffer[end + 1 :]
        yield piece, line
        line += piece.count(b"\n")
    buffer = b"".join([buffer, *parts])
    if buffer:
        yield buffer, line


def check_utf8(piece: bytes, first_line: int) -> None:
    """BAD_ENCODING naming the line, unless the piece is UTF-8."""
    if piece.isascii():
        return
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + piece.count(b"\n", 0, error.start)
        raise QuarantineError("BAD_ENCODING", f"not valid UTF-8 on line {line}") from None
