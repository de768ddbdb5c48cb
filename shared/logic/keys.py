"""Ids that become part of an S3 key (a clinic's statement, a quarantined file's name)."""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
SEGMENT_MAX = 128


class UnsafeKeyError(ValueError):
    """An id that would carry a path separator, `..` or another odd character into a key."""


def key_segment(value: str) -> str:
    """`value` unchanged if it is safe as one segment of a key (letters, digits, `_`, `-`, single inner
    dots); UnsafeKeyError otherwise. Intake admits only such ids; this keeps any other from a key."""
    if len(value) > SEGMENT_MAX or not _SEGMENT.fullmatch(value):
        raise UnsafeKeyError("an id that cannot be part of an S3 key")
    return value


def safe_file_name(name: str) -> str:
    """A file name made safe as the last segment of a key: odd characters become `_`, and a name that
    is only dots (or nothing) becomes `file`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[-SEGMENT_MAX:]
    return "file" if not cleaned.strip(".") else cleaned
