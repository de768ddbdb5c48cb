"""One file through intake in bounded memory: validated batch by batch, reconciled at the end.

Pass one streams the raw batches: each is validated (reject lines go to a spill), its valid typed rows go
to a spill partitioned by member (`member_column`), and each row's natural key (its exact values, with
its row number) goes to a spill partitioned by key. At the end, each key partition is reconciled on its
own: rows with the same content are duplicates, rows sharing a key with different content are
KEY_CONFLICT, and claims replaced, voided or reversed within the file are superseded. Only the rows whose
key repeats are read back whole. What is dropped is a list of row numbers.

The accepted rows then come back one member group at a time (`StagedFile.groups`): a group is a run of
member partitions small enough to hold, and no member is in two groups, so a member's claims, versions
and evidence are always handled together. Nothing here depends on how the file was cut into batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from shared.intake.csv_stream import RawBatch
from shared.intake.schema import KindSchema, Reason
from shared.intake.spill import PartitionedSpill
from shared.intake.validation import REJECT_SCHEMA, ROW_FIELD, SOURCE_ROW, validate
from shared.models.buckets import bucket_column
from shared.models.files import FileKind
from shared.models.tables import MEMBER_BUCKETS

ROWS_PER_GROUP = 250_000
"""Accepted rows applied at a time (their evidence, versions and gap-state writes), at most."""
ROWS_PER_KEY_PARTITION = 2_000_000
SPILL_MEMORY = 96 * 1024 * 1024
"""Bytes of spilled rows kept in memory before they go to local files (per spill)."""
MAX_PARTITIONS = 256
_SEED_PART = 0x5EED_0003
REPLACEMENT, VOID = "7", "8"


def _pow2(value: float) -> int:
    return 1 if value <= 1 else 2 ** math.ceil(math.log2(value))


def partitions_for(estimated_rows: int, rows_per_partition: int) -> int:
    """A power of two of partitions, so each holds about `rows_per_partition` of the estimated rows."""
    return min(MAX_PARTITIONS, _pow2(estimated_rows / rows_per_partition))


@dataclass(frozen=True)
class Counts:
    """A staged file's accounting (`rows_read = accepted + rejected + duplicate + superseded`)."""

    rows_read: int
    accepted: int
    rejected: int
    duplicate: int
    superseded: int


class Stager:
    """Pass one of one file: `add` each raw batch, then `finish`."""

    def __init__(
        self,
        kind: FileKind,
        schema: KindSchema,
        *,
        as_of: date,
        workdir: Path,
        estimated_rows: int,
        member_buckets: int = MEMBER_BUCKETS,
    ) -> None:
        """Rows are staged in member partitions of about `ROWS_PER_GROUP` rows. When there are no more
        partitions than `member_buckets`, a partition is a set of whole member buckets (bucket modulo the
        partitions), so each of the file's curated files by bucket is written from one group at once
        (`StagedFile.whole_buckets`); otherwise a polars hash of the member spreads them."""
        self.kind = kind
        self.schema = schema
        self._as_of = as_of
        member_parts = partitions_for(estimated_rows, ROWS_PER_GROUP) if schema.member_column else 1
        key_parts = partitions_for(estimated_rows, ROWS_PER_KEY_PARTITION)
        self.rows = PartitionedSpill(workdir / "rows", member_parts, SPILL_MEMORY // member_parts)
        self.keys = PartitionedSpill(workdir / "keys", key_parts, SPILL_MEMORY // 4 // key_parts)
        self.refs = PartitionedSpill(workdir / "refs", key_parts, SPILL_MEMORY // 16 // key_parts)
        self.rejects = PartitionedSpill(workdir / "rejects", 1, SPILL_MEMORY // 4)
        self.rows_read = 0
        self.rejected_rows = 0
        self._key = list(schema.natural_key or schema.content)
        shard = schema.shard_column or (self._key[0] if schema.natural_key else None)
        by = pl.col(shard) if shard else pl.struct(schema.content)
        self._key_partition = by.hash(_SEED_PART) % key_parts if key_parts > 1 else None
        member = schema.member_column
        self._member = member
        self._buckets = member_buckets if member_parts <= member_buckets else None
        self._member_parts = member_parts
        self._member_partition = (
            pl.col(member).hash(_SEED_PART) % member_parts
            if member and member_parts > 1 and self._buckets is None
            else None
        )
        self._key_columns = [SOURCE_ROW, *self._key]

    def add(self, batch: RawBatch) -> None:
        """Validate one batch and spill what it yields."""
        self.rows_read += batch.frame.height
        checked = validate(batch.frame, self.schema, as_of=self._as_of, strip=batch.padded)
        if checked.rejects.height:
            rejects = checked.rejects.sort(SOURCE_ROW, "field")
            self.rejected_rows += rejects.get_column(SOURCE_ROW).n_unique()
            self.rejects.add(rejects)
        valid = checked.valid
        if valid.height == 0:
            return
        # Exact keys (no hash decides anything): the key partition only groups rows that could clash.
        self.keys.add(valid.select(self._key_columns), self._key_partition)
        if self.kind is FileKind.MEDICAL_CLAIMS:
            versions = valid.filter(
                pl.col("claim_frequency_code").is_in([REPLACEMENT, VOID])
                & (pl.col("original_claim_id") != pl.col("claim_id")).fill_null(False)
            ).select(SOURCE_ROW, pl.col("original_claim_id").alias("claim_id"))
            if versions.height:
                self.refs.add(versions, self._ref_partition())
        self.rows.add(valid, self._member_partition_of(valid))

    def _member_partition_of(self, valid: pl.DataFrame) -> pl.Expr | None:
        if self._member is None or self._member_parts == 1 or self._buckets is None:
            return self._member_partition
        buckets = bucket_column(valid.get_column(self._member), self._buckets).fill_null(0)
        return pl.lit(buckets.cast(pl.Int64) % self._member_parts)

    def _ref_partition(self) -> pl.Expr | None:
        # A version names its original by claim id: it goes where rows of that claim id go.
        return self._key_partition

    def finish(self) -> StagedFile:
        """Reconcile every key partition; the staged file's accounting and accepted rows."""
        # Accepted rows come back a member group at a time: none need stay in memory meanwhile.
        self.rows.flush_all()
        self.keys.flush_all()
        dropped: list[pl.DataFrame] = []
        conflicts: list[pl.DataFrame] = []
        duplicate = 0
        key_column = self._key[0] if self.schema.natural_key else ROW_FIELD
        for number in range(self.keys.partitions):
            keys = self.keys.read([number])
            if keys is None:
                continue
            # A hash finds the few rows whose key may repeat; only they are compared exactly.
            maybe = keys.select(pl.struct(self._key).hash(_SEED_PART).is_duplicated()).to_series()
            if not maybe.any():
                continue
            keys = keys.filter(maybe)
            repeated = keys.select(pl.struct(self._key).is_duplicated()).to_series()
            if not repeated.any():
                continue
            # Rows whose key repeats: their whole content decides copy (duplicate) or clash (conflict).
            crowd = self._rows_of(keys.filter(repeated).select(SOURCE_ROW))
            first = pl.struct(self.schema.content).is_first_distinct()
            copies = crowd.filter(~first).select(SOURCE_ROW)
            duplicate += copies.height
            dropped.append(copies)
            if self.schema.natural_key is not None:
                firsts = crowd.filter(first)
                clash = firsts.filter(pl.len().over(self._key) > 1).select(SOURCE_ROW)
                conflicts.append(clash)
                dropped.append(clash)
        conflict_rows = pl.concat(conflicts) if conflicts else pl.DataFrame(schema={SOURCE_ROW: pl.Int64})
        superseded = self._superseded(pl.concat(dropped) if dropped else None)
        if superseded.height:
            dropped.append(superseded)
        drop = (
            pl.concat(dropped).unique().sort(SOURCE_ROW)
            if dropped
            else pl.DataFrame(schema={SOURCE_ROW: pl.Int64})
        )
        conflict_rejects = conflict_rows.sort(SOURCE_ROW).select(
            SOURCE_ROW,
            pl.lit(key_column).alias("field"),
            pl.lit(Reason.KEY_CONFLICT.value).alias("reason_code"),
        )
        valid = sum(self.rows.rows)
        counts = Counts(
            rows_read=self.rows_read,
            accepted=valid - drop.height,
            rejected=self.rejected_rows + conflict_rows.height,
            duplicate=duplicate,
            superseded=superseded.height,
        )
        return StagedFile(
            kind=self.kind,
            schema=self.schema,
            counts=counts,
            rows=self.rows,
            rejects=self.rejects,
            conflicts=conflict_rejects.cast(REJECT_SCHEMA),  # type: ignore[arg-type]
            drop=drop,
            buckets=self._buckets,
        )

    def _rows_of(self, wanted: pl.DataFrame) -> pl.DataFrame:
        """The spilled rows with these row numbers, in file order (a read of every member partition:
        only files with repeated keys pay it)."""
        found = [
            frame.join(wanted, on=SOURCE_ROW, how="semi")
            for number in range(self.rows.partitions)
            if (frame := self.rows.read([number])) is not None
        ]
        return pl.concat(found).sort(SOURCE_ROW)

    def _superseded(self, dropped: pl.DataFrame | None) -> pl.DataFrame:
        """Rows of originals the file itself replaces, voids or reverses (among rows not dropped)."""
        none = pl.DataFrame(schema={SOURCE_ROW: pl.Int64})
        if self.kind not in (FileKind.MEDICAL_CLAIMS, FileKind.PHARMACY_CLAIMS):
            return none
        self.refs.flush_all()
        found: list[pl.DataFrame] = []
        for number in range(self.keys.partitions):
            keys = self.keys.read([number])
            if keys is None:
                continue
            kept = keys if dropped is None else keys.join(dropped, on=SOURCE_ROW, how="anti")
            if self.kind is FileKind.MEDICAL_CLAIMS:
                refs = self.refs.read([number])
                if refs is None:
                    continue
                if dropped is not None:
                    refs = refs.join(dropped, on=SOURCE_ROW, how="anti")
                named = refs.select("claim_id").unique()
                found.append(kept.join(named, on="claim_id", how="semi").select(SOURCE_ROW))
            else:
                fill = ["claim_id", "fill_number"]
                reversed_fills = kept.filter(pl.col("claim_status") == "reversed").select(fill).unique()
                if reversed_fills.height:
                    paid = kept.filter(pl.col("claim_status") == "paid")
                    found.append(paid.join(reversed_fills, on=fill, how="semi").select(SOURCE_ROW))
        return pl.concat(found) if found else none


@dataclass
class StagedFile:
    """A file after pass one: its accounting, and its accepted rows by member group."""

    kind: FileKind
    schema: KindSchema
    counts: Counts
    rows: PartitionedSpill
    rejects: PartitionedSpill
    conflicts: pl.DataFrame
    drop: pl.DataFrame
    """Row numbers of valid rows that are not accepted (duplicates, conflicts, superseded)."""
    buckets: int | None = None
    """The member-bucket count whose whole buckets each member partition holds (None: partitions by hash)."""

    def whole_buckets(self, count: int) -> bool:
        """Whether every member bucket of `count` is in one group (`groups`) alone."""
        return self.rows.partitions == 1 or self.buckets == count

    def groups(self, rows_per_group: int | None = None) -> Iterator[pl.DataFrame]:
        """The accepted rows (typed, `source_row` first) of one member group (whole member partitions, up
        to `rows_per_group` rows, `ROWS_PER_GROUP` when None) at a time; members are disjoint across groups
        and each member's rows are in file order."""
        rows_per_group = rows_per_group or ROWS_PER_GROUP
        group: list[int] = []
        size = 0
        for number in range(self.rows.partitions):
            if group and size + self.rows.rows[number] > rows_per_group:
                yield from self._group(group)
                group, size = [], 0
            group.append(number)
            size += self.rows.rows[number]
        if group:
            yield from self._group(group)

    def _group(self, numbers: list[int]) -> Iterator[pl.DataFrame]:
        frame = self.rows.read(numbers)
        if frame is None:
            return
        if self.drop.height:
            frame = frame.join(self.drop, on=SOURCE_ROW, how="anti")
        if frame.height:
            # Partitions in turn, each in file order: a member's rows keep the file's order.
            yield frame

    def accepted(self) -> pl.LazyFrame | None:
        """Every accepted row, lazily (member partitions in turn, each in file order), for sinks."""
        lazy = self.rows.lazy()
        if lazy is None:
            return None
        if self.drop.height:
            lazy = lazy.join(self.drop.lazy(), on=SOURCE_ROW, how="anti", maintain_order="left")
        return lazy

    def reject_lines(self) -> pl.LazyFrame:
        """Every reject line, sorted by row then field (a KEY_CONFLICT row has no other line)."""
        lines = self.rejects.lazy()
        conflicts = self.conflicts.lazy()
        if lines is None:
            return conflicts
        if self.conflicts.height == 0:
            return lines
        return lines.merge_sorted(conflicts, key=SOURCE_ROW)
