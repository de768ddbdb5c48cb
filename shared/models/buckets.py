"""The member-bucket hash (docs/decisions.md, "Attribution fans out by member hash"): CRC-32 of the id's UTF-8
bytes modulo the bucket count, the same in every process, machine and Python version. It lives with the
models so intake can stage a file's rows by the same buckets the curated files are filed under
(`shared.intake.staging`); `shared.logic.member_buckets` has the rest of the bucket rules."""

from __future__ import annotations

import zlib

import polars as pl


def member_bucket(member_id: str, count: int) -> int:
    """The member's bucket, in [0, count)."""
    return zlib.crc32(member_id.encode("utf-8")) % count


def bucket_column(member_ids: pl.Series, count: int) -> pl.Series:
    """`member_bucket` of each id (Int16; null for a null id), worked out once per distinct id."""
    distinct = member_ids.drop_nulls().unique()
    buckets = pl.Series([member_bucket(m, count) for m in distinct.to_list()], dtype=pl.Int16)
    return member_ids.replace_strict(distinct, buckets, default=None, return_dtype=pl.Int16)
