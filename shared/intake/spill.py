"""Frames kept by partition while a file streams through, in local Parquet files (Lambda's ephemeral
storage) once a partition's buffer passes its size, so memory is bounded by the buffers, not by the file.

Parquet with LZ4: of the formats measured (Arrow IPC plain, LZ4 or zstd; Parquet LZ4), the cheapest to
write and read back and among the smallest on disk (docs/ingest.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import polars as pl

PARTITION = "__partition"
SPILL_COMPRESSION: Literal["lz4"] = "lz4"
SPILL_SUFFIX = ".parquet"


class PartitionedSpill:
    """Frames of one schema by partition number. A partition's frames stay in memory until they pass
    `flush_bytes`, then go to one IPC file; a partition's frames come back in the order they were added."""

    def __init__(self, directory: Path, partitions: int, flush_bytes: int) -> None:
        self._directory = directory
        self.partitions = partitions
        self._flush_bytes = max(flush_bytes, 1)
        self._buffers: list[list[pl.DataFrame]] = [[] for _ in range(partitions)]
        self._buffered = [0] * partitions
        self._files: list[list[Path]] = [[] for _ in range(partitions)]
        self.rows = [0] * partitions
        self._schema: pl.Schema | None = None

    def add(self, frame: pl.DataFrame, partition: pl.Expr | None = None) -> None:
        """Add `frame`'s rows, each to the partition `partition` gives it (all to 0 when None)."""
        if frame.height == 0:
            return
        if self._schema is None:
            self._schema = frame.schema
        if partition is None or self.partitions == 1:
            self._append(0, frame)
            return
        split = frame.with_columns(partition.cast(pl.Int64).alias(PARTITION)).partition_by(
            PARTITION, as_dict=True, include_key=False, maintain_order=True
        )
        for (number,), part in sorted(split.items(), key=lambda item: int(str(item[0][0]))):
            self._append(int(str(number)), part)

    def _append(self, number: int, frame: pl.DataFrame) -> None:
        self._buffers[number].append(frame)
        self._buffered[number] += int(frame.estimated_size())
        self.rows[number] += frame.height
        if self._buffered[number] >= self._flush_bytes:
            self._flush(number)

    def _flush(self, number: int) -> None:
        frames = self._buffers[number]
        if not frames:
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"p{number:04d}-{len(self._files[number]):05d}{SPILL_SUFFIX}"
        pl.concat(frames, rechunk=False).write_parquet(path, compression=SPILL_COMPRESSION, statistics=False)
        self._files[number].append(path)
        self._buffers[number] = []
        self._buffered[number] = 0

    def flush_all(self) -> None:
        """Write every buffered frame to disk (to free memory before a heavy next step)."""
        for number in range(self.partitions):
            self._flush(number)

    @property
    def schema(self) -> pl.Schema | None:
        """The frames' schema (None while nothing was added)."""
        return self._schema

    def read(self, numbers: Iterable[int]) -> pl.DataFrame | None:
        """Every frame of the given partitions, in partition order; None when they hold nothing."""
        frames = [frame for n in numbers for frame in self._frames(n)]
        if not frames:
            return None
        return pl.concat(frames, rechunk=False)

    def _frames(self, number: int) -> Iterator[pl.DataFrame]:
        for path in self._files[number]:
            yield pl.read_parquet(path)
        yield from self._buffers[number]

    def lazy(self) -> pl.LazyFrame | None:
        """Every partition's frames as one lazy frame (partition order), for streaming sinks."""
        parts: list[pl.LazyFrame] = []
        for number in range(self.partitions):
            parts.extend(pl.scan_parquet(path) for path in self._files[number])
            parts.extend(frame.lazy() for frame in self._buffers[number])
        return pl.concat(parts) if parts else None
