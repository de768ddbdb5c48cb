"""Member buckets: a stable hash of the member id, so work on members fans out by bucket (docs/decisions.md,
"Attribution fans out by member hash").

`member_bucket(id, count)` is CRC-32 of the id's UTF-8 bytes modulo the bucket count: the same in every
process, machine and Python version (Python's `hash()` is salted per process; polars' hash may change between
versions). Curated files of the kinds attribution reads are filed by bucket under a `bucket=NNN-of-MMM` key
segment that names the bucket count too, so a file written under another count is read as unbucketed and
filtered row by row rather than misread.

The count is a deployment setting (`MEMBER_BUCKETS`, the CDK context `member_buckets`; docs/apc.md "Limits
and scale"): about one bucket per 100,000 members, `MEMBER_BUCKETS` (128, for up to about 12M members) when
unset. Every function here takes it as `count`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import polars as pl

from shared.models.buckets import bucket_column, member_bucket
from shared.models.files import FileKind
from shared.models.tables import MAX_MEMBER_BUCKETS, MEMBER_BUCKETS, BucketCountError, checked_count

__all__ = [  # the count and its check live in shared.models.tables, which the CDK app may import
    "BY_BUCKET",
    "BY_PERIOD_AND_BUCKET",
    "MAX_MEMBER_BUCKETS",
    "MEMBERS_PER_BUCKET",
    "MEMBER_BUCKETS",
    "BucketCountError",
    "bucket_column",
    "bucket_segment",
    "bucket_segments",
    "buckets_for",
    "checked_count",
    "contiguous_parts",
    "curated_partition",
    "in_buckets",
    "key_partition",
    "member_bucket",
    "segment_bucket",
    "segment_of",
]

MEMBERS_PER_BUCKET = 100_000
"""About how many members a bucket is sized for (`buckets_for`)."""
BY_PERIOD_AND_BUCKET = frozenset({FileKind.MEDICAL_CLAIMS})
"""Kinds filed `period=<YYYY-MM>/bucket=NNN-of-MMM/`: attribution reads a bucket's lookback of them."""
BY_BUCKET = frozenset({FileKind.ELIGIBILITY})
"""Kinds filed `bucket=NNN-of-MMM/` alone: attribution reads every period of a bucket's roster spans, and a
roster's spans start over many years (a period each would be that many small files per bucket)."""
_SEGMENT = re.compile(r"bucket=([0-9]{3})-of-([0-9]{1,3})")


def buckets_for(members: int) -> int:
    """The bucket count for a plan of about `members` members: one per `MEMBERS_PER_BUCKET`, at least one."""
    return checked_count(min(MAX_MEMBER_BUCKETS, max(1, -(-members // MEMBERS_PER_BUCKET))))


def in_buckets(frame: pl.DataFrame, buckets: Iterable[int], count: int) -> pl.DataFrame:
    """The rows of `frame` whose `member_id` is in one of `buckets` (of `count`)."""
    wanted = sorted(set(buckets))
    if frame.is_empty() or len(wanted) == count:
        return frame
    return frame.filter(bucket_column(frame.get_column("member_id"), count).is_in(wanted))


def bucket_segment(bucket: int, count: int) -> str:
    """The key segment of a bucket's files: `bucket=007-of-128`."""
    return f"bucket={bucket:03d}-of-{count}"


def bucket_segments(member_ids: pl.Series, count: int) -> pl.Series:
    """`bucket_segment` of each id's bucket (a String series)."""
    return pl.Series([bucket_segment(b, count) for b in range(count)], dtype=pl.String).gather(
        bucket_column(member_ids, count).fill_null(0)
    )


def curated_partition(kind: FileKind, rows: pl.DataFrame, period: pl.Expr, count: int) -> pl.Expr:
    """Where each accepted row of `kind` is filed under `curated/<kind>/`: `period=<YYYY-MM>` (`period`, a
    string expression), with the member's bucket (of `count`) for the kinds attribution reads by bucket."""
    filed = pl.concat_str(pl.lit("period="), period)
    if kind in BY_PERIOD_AND_BUCKET:
        return pl.concat_str(filed, pl.lit("/"), pl.lit(bucket_segments(rows.get_column("member_id"), count)))
    if kind in BY_BUCKET:
        return pl.lit(bucket_segments(rows.get_column("member_id"), count))
    return filed


def segment_of(segment: str) -> tuple[int, int] | None:
    """The bucket and bucket count a key segment names (`bucket=007-of-128`: 7 of 128); None for any other
    segment."""
    found = _SEGMENT.fullmatch(segment)
    if found is None:
        return None
    bucket, count = int(found.group(1)), int(found.group(2))
    return (bucket, count) if 0 <= bucket < count else None


def segment_bucket(segment: str, count: int) -> int | None:
    """The bucket a key segment names under `count` buckets; None for any other segment (another count's
    bucket included)."""
    named = segment_of(segment)
    return named[0] if named is not None and named[1] == count else None


def contiguous_parts(sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Buckets `0..len(sizes)-1` cut into runs of neighbours (first, last; both included) whose `sizes` add
    up to at most `budget` each, fewest first-fit; a bucket larger than the budget is a part alone."""
    parts: list[tuple[int, int]] = []
    first, held = 0, 0
    for bucket, size in enumerate(sizes):
        if bucket > first and held + size > budget:
            parts.append((first, bucket - 1))
            first, held = bucket, 0
        held += size
    if sizes:
        parts.append((first, len(sizes) - 1))
    return parts


def key_partition(key: str, prefix: str, count: int) -> tuple[str | None, int | None]:
    """The period (`period=<YYYY-MM>`) and bucket (`bucket=NNN-of-MMM`, of `count`) a curated key under
    `prefix` is filed by; None for either it is not filed by."""
    period, bucket = None, None
    for segment in key[len(prefix) :].split("/")[:-1]:
        if segment.startswith("period="):
            period = segment.removeprefix("period=")
        elif segment.startswith("bucket="):
            bucket = segment_bucket(segment, count)
    return period, bucket
