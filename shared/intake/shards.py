"""The first pass of a fanned-out file: stream it once and cut its rows into member-hash shards.

A file too large for one ingest function (`shared.intake.source.MAX_FILE_BYTES`) is ingested in shards, one
function each (docs/ingest.md, "Fan-out"). This pass reads the object once, as `stage_file` does (hashed as
stored, gzip inflated incrementally, parsed into string batches with the file's own row numbers), and
spills each row, still as strings, to the shard its member's hash names. Nothing is validated here:
validation, reconciliation and evidence are each shard's, as for any file, so both routes run the same
code on the same rows.

Two things make a shard's result the file's:
- **members are disjoint across shards**, so a member's claims, versions and evidence are netted together;
- **a natural key is never split across shards**: a key that does not contain the member (a claim id) could
  be repeated under two members, which one function reports as a duplicate or a KEY_CONFLICT. The pass
  keeps a hash of every row's key (blanks stripped, case and leading zeros ignored, so it groups at least
  the rows validation would find equal) with its shard, and shards that share a key are joined into one.
  Joining only ever moves whole members together, so the first property holds too.

Whole-file problems (header, encoding, trailer, size) are found here, as in one function, and the file is
quarantined with the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from shared.intake.csv_stream import RawBatch
from shared.intake.errors import QuarantineError
from shared.intake.reader import estimated_rows, read_rows, schema_for
from shared.intake.schema import KindSchema
from shared.intake.source import ByteStream, prefetched
from shared.intake.spill import PartitionedSpill
from shared.intake.staging import StagedFile, Stager
from shared.intake.validation import RAGGED, SOURCE_ROW
from shared.models.files import FileKind
from shared.models.tables import MEMBER_BUCKETS

SHARD_SEED = 0x5EED_0005
"""Seed of the member hash that picks a row's shard (not the stager's: its member groups are its own)."""
_KEY_SEED = 0x5EED_0006
KEY_PARTITIONS = 64
SPILL_MEMORY = 256 * 1024 * 1024
"""Bytes of shard rows kept in memory, in all, before they go to local files."""
KEY_MEMORY = 32 * 1024 * 1024
SHARD_LINES = 1_000_000
"""Rows a shard is cut for: one function applies a million claim lines in about two and a half minutes on
Lambda (docs/ingest.md), well inside its fifteen."""
MAX_SHARDS = 256
FAN_OUT_MAX_BYTES = 64 * 1024**3
"""The largest file (uncompressed) the fan-out takes: 64 GiB, about 400M claim lines (its first pass
stages the shards on the function's 10 GB of local disk, about 1.2 GB per 10M lines)."""
SHARD_ROWS_PER_BATCH = 200_000
"""Rows of a shard handed to its stager at a time (as a parsed piece of a file would be)."""


def shardable(kind: FileKind) -> bool:
    """Whether a kind can be fanned out: its rows name a member (the shards are cut by member; an
    eligibility file's coverage is combined from its shards')."""
    try:
        schema = schema_for(kind)
    except QuarantineError:  # a kind intake does not read yet
        return False
    return schema.member_column is not None


@dataclass
class Cut:
    """A file after the first pass: its id, and either its shards or why it is quarantined."""

    file_id: str
    kind: FileKind
    stored_bytes: int
    problem: QuarantineError | None = None
    rows_read: int = 0
    padded: bool = False
    """True when some value may carry surrounding blanks (each shard's validation then strips them)."""
    skipped_resources: int = 0
    shards: list[list[int]] = field(default_factory=list)
    """Each shard as the spill partitions it joins (one unless shards shared a key), in order."""
    spill: PartitionedSpill | None = None

    def shard_rows(self, shard: int) -> int:
        assert self.spill is not None
        return sum(self.spill.rows[number] for number in self.shards[shard])

    def write_shard(self, shard: int, path: Path) -> None:
        """A shard's rows (strings, `source_row` first, the RAGGED flag) as one Parquet file, in order."""
        assert self.spill is not None
        parts: list[pl.LazyFrame] = []
        for number in self.shards[shard]:
            lazy = self.spill.lazy_partition(number)
            if lazy is not None:
                parts.append(lazy)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pl.concat(parts) if parts else None
        if frame is None:
            raise ValueError(f"shard {shard} has no rows")
        frame.sort(SOURCE_ROW).sink_parquet(path, compression="lz4", statistics=False)


class _KeyShards:
    """Which shards each natural key was seen in (by a hash of its normalised value), to join the shards
    that share one."""

    def __init__(self, schema: KindSchema, shards: int, workdir: Path) -> None:
        key = list(schema.natural_key or ())
        self.needed = bool(key) and schema.member_column not in key
        self._expr = pl.struct([_normal(name) for name in key]).hash(_KEY_SEED) if self.needed else None
        self._spill = PartitionedSpill(workdir / "key-shards", KEY_PARTITIONS, KEY_MEMORY // KEY_PARTITIONS)
        self._parent = list(range(shards))

    def add(self, frame: pl.DataFrame, shard: pl.Expr) -> None:
        if self._expr is None:
            return
        pairs = frame.select(self._expr.alias("key"), shard.cast(pl.Int32).alias("shard")).unique()
        self._spill.add(pairs, pl.col("key") % KEY_PARTITIONS)

    def _find(self, shard: int) -> int:
        while self._parent[shard] != shard:
            self._parent[shard] = self._parent[self._parent[shard]]
            shard = self._parent[shard]
        return shard

    def joined(self) -> list[list[int]]:
        """The shards, each as the spill partitions it joins (shards that share a key are one)."""
        if self._expr is not None:
            self._spill.flush_all()
            for number in range(KEY_PARTITIONS):
                pairs = self._spill.read([number])
                if pairs is None:
                    continue
                shared = (
                    pairs.unique()
                    .filter(pl.len().over("key") > 1)
                    .group_by("key")
                    .agg(pl.col("shard").min().alias("first"), pl.col("shard"))
                    .explode("shard")
                    .select("first", "shard")
                    .unique()
                )
                for first, other in shared.iter_rows():
                    a, b = self._find(int(first)), self._find(int(other))
                    if a != b:
                        self._parent[max(a, b)] = min(a, b)
        groups: dict[int, list[int]] = {}
        for shard in range(len(self._parent)):
            groups.setdefault(self._find(shard), []).append(shard)
        return [groups[root] for root in sorted(groups)]


def _normal(name: str) -> pl.Expr:
    """A key value as loosely as validation could make two of them equal: no blanks around it, case
    ignored, no leading zeros (an integer written `01` is `1`)."""
    return pl.col(name).str.strip_chars(" \t").str.to_lowercase().str.strip_chars_start("0").alias(name)


def shard_count(stored_bytes: int, compressed: bool) -> int:
    """Shards for a file of this stored size: about `SHARD_LINES` rows each, at least two."""
    rows = estimated_rows(stored_bytes, compressed)
    return max(2, min(MAX_SHARDS, math.ceil(rows / SHARD_LINES)))


def cut_file(
    stream: ByteStream,
    *,
    kind: FileKind,
    stored_bytes: int,
    workdir: Path,
    shards: int | None = None,
    limit: int = FAN_OUT_MAX_BYTES,
) -> Cut:
    """Read a file once from `stream` and cut its rows into member-hash shards under `workdir` (`shards`,
    by default about `SHARD_LINES` rows each; fewer when shards share a key or hold no rows), or find why
    it is quarantined."""
    schema = schema_for(kind)
    member = schema.member_column
    if member is None:
        raise ValueError(f"kind {kind.value} has no member column to cut shards by")
    cut_rows, padded = 0, False
    with read_rows(stream, kind=kind, schema=schema, workdir=workdir, limit=limit) as read:
        shards = shards or shard_count(stored_bytes, read.compressed)
        spill = PartitionedSpill(workdir / "shards", shards, SPILL_MEMORY // shards)
        keys = _KeyShards(schema, shards, workdir)
        shard_of = pl.col(member).hash(SHARD_SEED) % shards
        for batch in read.batches:
            frame = batch.frame
            if RAGGED not in frame.columns:
                frame = frame.with_columns(pl.lit(False).alias(RAGGED))
            cut_rows += frame.height
            padded = padded or batch.padded
            keys.add(frame, shard_of)
            spill.add(frame, shard_of)
    problem = read.problem
    cut = Cut(
        file_id=read.file_id,
        kind=kind,
        stored_bytes=read.stored_bytes,
        problem=problem,
        rows_read=cut_rows,
        padded=padded,
        skipped_resources=read.skipped_resources,
    )
    if problem is None:
        spill.flush_all()
        cut.spill = spill
        cut.shards = [group for group in keys.joined() if sum(spill.rows[n] for n in group)]
    return cut


def shard_batches(path: Path, *, padded: bool, rows: int = SHARD_ROWS_PER_BATCH) -> Iterator[RawBatch]:
    """A shard file's rows as raw batches, in file order, `rows` at a time."""
    lazy = pl.scan_parquet(path)
    height = int(lazy.select(pl.len()).collect().item())
    for offset in range(0, height, rows):
        frame = lazy.slice(offset, rows).collect()
        if not frame.get_column(RAGGED).any():
            frame = frame.drop(RAGGED)
        yield RawBatch(frame, padded=padded)


def stage_shard(
    path: Path,
    *,
    kind: FileKind,
    as_of: date,
    workdir: Path,
    padded: bool,
    rows: int,
    member_buckets: int = MEMBER_BUCKETS,
) -> StagedFile:
    """Pass one of `shared.intake.staging` over a shard file: its rows validated and reconciled as a whole
    file's would be (row numbers are the file's)."""
    stager = Stager(
        kind,
        schema_for(kind),
        as_of=as_of,
        workdir=workdir,
        estimated_rows=rows,
        member_buckets=member_buckets,
    )
    batches = prefetched(shard_batches(path, padded=padded), depth=1)
    try:
        for batch in batches:
            stager.add(batch)
    finally:
        batches.close()  # type: ignore[attr-defined]
    return stager.finish()
