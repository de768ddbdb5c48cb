"""Frames kept by partition while a file streams through, in local Parquet files (Lambda's ephemeral
storage) once a partition's buffer passes its size, so memory is bounded by the buffers, not by the file.

Parquet with LZ4: of the formats measured (Arrow IPC plain, LZ4 or zstd; Parquet LZ4), the cheapest to
write and read back and among the smallest on disk (docs/ingest.md). Buffers are sized by `frame_bytes`,
which counts the 16-byte view polars keeps for every string value (`estimated_size` leaves them out, and
a frame of claim lines is then five times its estimate)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, Protocol

import polars as pl
from polars.io.partition import FileProviderArgs

PARTITION = "__partition"
SPILL_COMPRESSION: Literal["lz4"] = "lz4"
SPILL_SUFFIX = ".parquet"


VIEW_BYTES = 16
_VIEWS = (pl.String, pl.Binary)


def frame_bytes(frame: pl.DataFrame) -> int:
    """Bytes a frame holds in memory: its estimate plus a view per string value."""
    strings = sum(1 for dtype in frame.dtypes if dtype in _VIEWS)
    return int(frame.estimated_size()) + VIEW_BYTES * frame.height * strings


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its strings in buffers of its own: a slice or a partition of a larger frame points
    into the larger frame's buffers, and keeps them alive however few rows it has."""
    if pl.String not in frame.dtypes:
        return frame
    return frame.with_columns(pl.col(pl.String) + "")


class PartitionedSpill:
    """Frames of one schema by partition number. A partition's frames stay in memory until they pass
    `flush_bytes`, then go to one local file; a partition's frames come back in the order they were added."""

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
        self._buffered[number] += frame_bytes(frame)
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

    def lazy_partition(self, number: int) -> pl.LazyFrame | None:
        """One partition's frames as one lazy frame (in the order added); None when it holds nothing."""
        parts = [pl.scan_parquet(path) for path in self._files[number]]
        parts.extend(frame.lazy() for frame in self._buffers[number])
        return pl.concat(parts) if parts else None

    def lazy(self) -> pl.LazyFrame | None:
        """Every partition's frames as one lazy frame (partition order), for streaming sinks."""
        parts: list[pl.LazyFrame] = []
        for number in range(self.partitions):
            parts.extend(pl.scan_parquet(path) for path in self._files[number])
            parts.extend(frame.lazy() for frame in self._buffers[number])
        return pl.concat(parts) if parts else None


def split_by_key(frame: pl.DataFrame, key: pl.Expr) -> list[tuple[str, pl.DataFrame]]:
    """`frame`'s rows under each text key `key` gives them (a string expression, never null): (key, rows)
    in the order the keys first appear, each key's rows in the frame's order."""
    split = frame.with_columns(key.alias(PARTITION)).partition_by(
        PARTITION, as_dict=True, include_key=False, maintain_order=True
    )
    return [(str(name), part) for (name,), part in split.items()]


class RowsByKey(Protocol):
    """Rows kept by a text key until each key is written out as one file (`PeriodSpill`, `KeyedFiles`)."""

    def add(self, frame: pl.DataFrame, key: pl.Expr) -> None: ...

    def names(self) -> list[str]: ...

    def sink(self, key: str, path: Path) -> None: ...


class PeriodSpill:
    """Frames by a text key (a `YYYY-MM` period), each key's rows written out as one Parquet file at the
    end (`sink`), one key at a time: memory is the buffers (`flush_bytes` in all, the largest buffer
    flushed first) and one sink's stream, whatever the number of keys. Rows of a key keep their order."""

    def __init__(self, directory: Path, flush_bytes: int) -> None:
        self._directory = directory
        self._flush_bytes = max(flush_bytes, 1)
        self._buffers: dict[str, list[pl.DataFrame]] = {}
        self._buffered: dict[str, int] = {}
        self._files: dict[str, list[Path]] = {}
        self._written = 0

    def add(self, frame: pl.DataFrame, key: pl.Expr) -> None:
        """Add `frame`'s rows, each under the key `key` gives it (a string expression, never null)."""
        if frame.height == 0:
            return
        added = []
        for text, part in split_by_key(frame, key):
            self._buffers.setdefault(text, []).append(part)
            self._buffered[text] = self._buffered.get(text, 0) + frame_bytes(part)
            added.append(text)
        while sum(self._buffered.values()) >= self._flush_bytes:
            self._flush(max(self._buffered, key=self._buffered.__getitem__))
        # A part left in memory would hold on to the whole frame's string buffers (its views point into
        # them): a few rows of a sparse period kept the strings of every group they came from.
        for text in added:
            if text in self._buffers:
                self._buffers[text][-1] = compact(self._buffers[text][-1])

    def _flush(self, key: str) -> None:
        frames = self._buffers.pop(key)
        del self._buffered[key]
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"k{self._written:05d}{SPILL_SUFFIX}"
        self._written += 1
        pl.concat(frames, rechunk=False).write_parquet(path, compression=SPILL_COMPRESSION, statistics=False)
        self._files.setdefault(key, []).append(path)

    def names(self) -> list[str]:
        """Every key with rows, in order."""
        return sorted(set(self._files) | set(self._buffers))

    def sink(self, key: str, path: Path) -> None:
        """Write the key's rows, in the order added, as one snappy Parquet file, streamed."""
        parts = [pl.scan_parquet(file) for file in self._files.get(key, [])]
        parts.extend(frame.lazy() for frame in self._buffers.get(key, []))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Snappy: about as small as zstd on these columns and cheaper to write.
        pl.concat(parts).sink_parquet(path, compression="snappy")


class KeyedFiles:
    """Frames by a text key written out at once, each key's rows as one snappy Parquet file: for rows that
    come a whole key at a time (each key's rows in one `add`), with no spill to write and read back. The
    same `add`, `names` and `sink` as `PeriodSpill`; a key added twice is refused (its first file would be
    overwritten), so a caller that cannot promise whole keys uses a `PeriodSpill`.

    One `add` writes all its keys' files in one partitioned sink (`pl.PartitionBy`): polars sets a sink up
    once, not once per file, which halves the cost of a group's few hundred curated files (docs/ingest.md)."""

    def __init__(self, directory: Path) -> None:
        # Absolute: polars reads a relative path from the sink's own base path.
        self._directory = directory.absolute()
        self._files: dict[str, Path] = {}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()  # groups are added from several threads (`in_order`)

    def add(self, frame: pl.DataFrame, key: pl.Expr) -> None:
        """Write `frame`'s rows, each key's (a string expression, never null) to its own file, in order."""
        if frame.height == 0:
            return
        keyed = frame.with_columns(key.alias(PARTITION))
        texts = keyed.get_column(PARTITION).unique().sort().to_list()
        with self._lock:
            again = [text for text in texts if text in self._claimed]
            if again:
                raise ValueError(f"rows of key {again[0]} were added in two parts")
            start = len(self._claimed)
            self._claimed.update(texts)
        self._directory.mkdir(parents=True, exist_ok=True)
        paths = {text: self._directory / f"k{start + n:05d}.parquet" for n, text in enumerate(texts)}
        split: list[str] = []

        def path_of(args: FileProviderArgs) -> Path:
            text = str(args.partition_keys.item(0, 0))
            if args.index_in_partition:
                split.append(text)
                return self._directory / f"split-{len(split):05d}.parquet"
            return paths[text]

        target = pl.PartitionBy(
            str(self._directory),
            key=PARTITION,
            include_key=False,
            file_path_provider=path_of,
            approximate_bytes_per_file=None,
        )
        keyed.lazy().sink_parquet(target, compression="snappy")
        if split:  # polars cut a key's rows into several files: nothing here may read them as one
            raise RuntimeError(f"the rows of key {split[0]} were written as several files")
        with self._lock:
            self._files.update(paths)

    def names(self) -> list[str]:
        """Every key with rows, in order."""
        return sorted(self._files)

    def sink(self, key: str, path: Path) -> None:
        """Move the key's file to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._files.pop(key).replace(path)
