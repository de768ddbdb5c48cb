"""The intake API. `stage_file` takes a landed file as a stream and stages it in bounded memory (pass
one of `shared.intake.staging`); `read_file` does the same for bytes in memory and returns the accepted
rows as one frame (tests, the decks, small files)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from shared.csv_cells import csv_cell_expr
from shared.intake.csv_stream import CsvStream, RawBatch
from shared.intake.errors import QuarantineError
from shared.intake.fhir import FhirStream
from shared.intake.jsonl_stream import JsonLinesStream
from shared.intake.kinds import SCHEMAS
from shared.intake.parquet_stream import PARQUET_MAGIC, parquet_batches
from shared.intake.schema import KindSchema
from shared.intake.source import (
    GZIP_MAGIC,
    MAX_FILE_BYTES,
    ByteStream,
    HashedChunks,
    bytes_stream,
    inflate,
    prefetched,
)
from shared.intake.staging import StagedFile, Stager
from shared.intake.validation import REJECT_SCHEMA, ROW_FIELD, SOURCE_ROW
from shared.models.files import FileKind, FileManifest, FileStatus
from shared.models.tables import MEMBER_BUCKETS

LANDING_PREFIX = "landing"
CURRENT_PERIOD = "current"
REJECT_COLUMNS = (SOURCE_ROW, "field", "reason_code")
BYTES_PER_ROW = 100
"""A rough row size, to size a file's partitions before it is read (it changes no result)."""
GZIP_RATIO = 8


def kind_from_key(key: str) -> FileKind:
    """The file kind from an S3 key `landing/<kind>/<name>`; UNKNOWN_KIND otherwise."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != LANDING_PREFIX or not parts[-1]:
        raise QuarantineError("UNKNOWN_KIND", "key is not landing/<kind>/<name>")
    try:
        return FileKind(parts[1])
    except ValueError:
        raise QuarantineError("UNKNOWN_KIND", "key names no known kind") from None


def schema_for(kind: FileKind) -> KindSchema:
    """The schema of a kind's rows (for FHIR, of its flattened rows); UNSUPPORTED_KIND if it has none."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise QuarantineError("UNSUPPORTED_KIND", f"kind {kind.value} is not supported yet")
    return schema


@dataclass
class Staging:
    """A landed file after pass one: its id, and either its staged rows or why it is quarantined."""

    file_id: str
    kind: FileKind | None
    """None when the key names no kind (the file is only hashed)."""
    staged: StagedFile | None
    problem: QuarantineError | None
    skipped_resources: int = 0
    stored_bytes: int = 0

    def manifest(self, source_key: str) -> FileManifest:
        """The file's accounting (ACCEPTED, or QUARANTINED with its reason); only for a known kind."""
        if self.kind is None:
            raise ValueError("a file of no known kind has no manifest")
        if self.staged is None:
            assert self.problem is not None
            return FileManifest(
                file_id=self.file_id,
                kind=self.kind,
                source_key=source_key,
                status=FileStatus.QUARANTINED,
                rows_read=0,
                accepted=0,
                rejected=0,
                duplicate=0,
                superseded=0,
                quarantine_reason=self.problem.reason_code,
                quarantine_detail=self.problem.detail or None,
            )
        counts = self.staged.counts
        return FileManifest(
            file_id=self.file_id,
            kind=self.kind,
            source_key=source_key,
            status=FileStatus.ACCEPTED,
            rows_read=counts.rows_read,
            accepted=counts.accepted,
            rejected=counts.rejected,
            duplicate=counts.duplicate,
            superseded=counts.superseded,
        )


def _peek(content: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first non-blank bytes of the content (up to a chunk) and the content, unconsumed."""
    seen: list[bytes] = []
    for chunk in content:
        seen.append(chunk)
        if chunk.strip():
            break
    head = b"".join(seen)

    def again() -> Iterator[bytes]:
        if head:
            yield head
        yield from content

    return head, again()


def raw_batches(
    content: Iterator[bytes], kind: FileKind, schema: KindSchema, workdir: Path
) -> tuple[Iterator[RawBatch], FhirStream | None]:
    """The content's rows as string batches (`source_row` numbered over the whole file), by its format."""
    head, content = _peek(content)
    if not head.strip() and not head.startswith(PARQUET_MAGIC):
        raise QuarantineError("EMPTY_FILE", "file has no content")
    if kind is FileKind.FHIR:
        fhir = FhirStream(content)
        return fhir.batches(), fhir
    if head.startswith(PARQUET_MAGIC):
        return parquet_batches(content, schema, workdir), None
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
        return JsonLinesStream(content, schema).batches(), None
    return CsvStream(content, schema).batches(), None


def estimated_rows(stored_bytes: int | None, compressed: bool) -> int:
    """A guess of a file's rows from its stored size (only sizes its partitions)."""
    if not stored_bytes:
        return 0
    return stored_bytes * (GZIP_RATIO if compressed else 1) // BYTES_PER_ROW


def hash_file(stream: ByteStream, problem: QuarantineError) -> Staging:
    """A file that will not be read (its key names no kind): only hashed, with why it is quarantined."""
    chunks = HashedChunks(stream)
    chunks.drain()
    return Staging(
        file_id=chunks.file_id, kind=None, staged=None, problem=problem, stored_bytes=chunks.stored_bytes
    )


@dataclass
class RowsRead:
    """One read of a file's bytes (`read_rows`): its string batches while they are read; afterwards its id,
    stored size, FHIR resources skipped, and the problem that quarantines it, if one was found."""

    compressed: bool
    batches: Iterator[RawBatch]
    problem: QuarantineError | None = None
    fhir: FhirStream | None = None
    file_id: str = ""
    stored_bytes: int = 0

    @property
    def skipped_resources(self) -> int:
        return self.fhir.skipped if self.fhir is not None else 0


@contextmanager
def read_rows(
    stream: ByteStream, *, kind: FileKind, schema: KindSchema, workdir: Path, limit: int
) -> Iterator[RowsRead]:
    """Read a file once from `stream`: hashed as stored, gzip inflated as it goes (past `limit`
    uncompressed it is TOO_LARGE), parsed by its format into string batches, the next batch parsed while
    the caller works on this one. A `QuarantineError`, found here or raised by the caller's work on the
    batches, ends the reading and is kept as `problem`; the rest of the file is then only hashed. On leaving,
    `file_id` and `stored_bytes` are the whole stored object's."""
    chunks = HashedChunks(stream)
    raw = iter(chunks)
    first = next(raw, b"")
    content = prefetched(inflate(chain(first, raw), limit))
    read = RowsRead(compressed=first.startswith(GZIP_MAGIC), batches=iter(()))
    parsed: Iterator[RawBatch] | None = None
    try:
        try:
            batches, read.fhir = raw_batches(content, kind, schema, workdir)
            parsed = read.batches = prefetched(batches, depth=1)
        except QuarantineError as error:
            read.problem = error
        yield read
    except QuarantineError as error:
        read.problem = error
    finally:
        if parsed is not None:
            parsed.close()  # type: ignore[attr-defined]
        content.close()  # type: ignore[attr-defined]
    chunks.drain()
    read.file_id, read.stored_bytes = chunks.file_id, chunks.stored_bytes


def stage_file(
    stream: ByteStream,
    *,
    kind: FileKind,
    as_of: date,
    workdir: Path,
    size_hint: int | None = None,
    limit: int = MAX_FILE_BYTES,
    member_buckets: int = MEMBER_BUCKETS,
) -> Staging:
    """Read a file once from `stream`, in bounded memory: hash it, and validate and stage its rows under
    `workdir` (by whole buckets of `member_buckets`, `Stager`), or find why it is quarantined (the rest of the
    file is then only hashed)."""
    schema = schema_for(kind)
    staged: StagedFile | None = None
    with read_rows(stream, kind=kind, schema=schema, workdir=workdir, limit=limit) as read:
        if read.problem is None:
            rows = estimated_rows(size_hint, read.compressed)
            stager = Stager(
                kind,
                schema,
                as_of=as_of,
                workdir=workdir,
                estimated_rows=rows,
                member_buckets=member_buckets,
            )
            for batch in read.batches:
                stager.add(batch)
            staged = stager.finish()
    return Staging(
        file_id=read.file_id,
        kind=kind,
        staged=staged,
        problem=read.problem,
        skipped_resources=read.skipped_resources,
        stored_bytes=read.stored_bytes,
    )


def chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk (when not empty), then the rest."""
    if first:
        yield first
    yield from rest


def write_rejects_csv(lines: pl.LazyFrame, path: Path) -> None:
    """The rejects report: `source_row,field,reason_code`, one line per bad field, never a value (a row
    problem has an empty field); cells made safe to open (`shared.csv_cells`)."""
    lines.select(
        pl.col(SOURCE_ROW),
        csv_cell_expr(pl.col("field").replace(ROW_FIELD, None)).alias("field"),
        csv_cell_expr(pl.col("reason_code")).alias("reason_code"),
    ).sink_csv(path)


@dataclass(frozen=True)
class IntakeResult:
    """One file after intake, in memory: accepted rows are typed per schema plus `source_row`."""

    file_id: str
    kind: FileKind
    accepted: pl.DataFrame
    rejects: pl.DataFrame
    manifest: FileManifest
    skipped_resources: int = 0
    """FHIR resources of types intake does not flatten (Patient, Coverage…); zero for other kinds."""


def read_file(
    data: bytes,
    *,
    kind: FileKind,
    source_key: str,
    as_of: date | None = None,
    limit: int = MAX_FILE_BYTES,
) -> IntakeResult:
    """Parse and validate one file held in memory; whole-file problems raise `QuarantineError`.

    `as_of` is the day rules such as "birth date not in the future" compare with (default: today, UTC);
    `limit` the largest uncompressed size taken.
    """
    with tempfile.TemporaryDirectory(prefix="p4p-intake-") as scratch:
        staging = stage_file(
            bytes_stream(data),
            kind=kind,
            as_of=as_of or datetime.now(UTC).date(),
            workdir=Path(scratch),
            size_hint=len(data),
            limit=limit,
        )
        if staging.problem is not None:
            raise staging.problem
        staged = staging.staged
        assert staged is not None
        typed = {SOURCE_ROW: pl.Int64(), **staged.schema.polars_schema()}
        groups = list(staged.groups())
        accepted = pl.concat(groups).sort(SOURCE_ROW) if groups else pl.DataFrame(schema=typed)
        rejects = staged.reject_lines().collect().cast(REJECT_SCHEMA)  # type: ignore[arg-type]
        return IntakeResult(
            file_id=staging.file_id,
            kind=kind,
            accepted=accepted.cast(typed),  # type: ignore[arg-type]
            rejects=rejects,
            manifest=staging.manifest(source_key),
            skipped_resources=staging.skipped_resources,
        )


def rejects_csv(result: IntakeResult) -> bytes:
    """The rejects report of an in-memory result (see `write_rejects_csv`)."""
    with tempfile.TemporaryDirectory(prefix="p4p-rejects-") as scratch:
        path = Path(scratch) / "rejects.csv"
        write_rejects_csv(result.rejects.lazy(), path)
        return path.read_bytes()


def month_partitions(frame: pl.DataFrame, column: str) -> dict[str, pl.DataFrame]:
    """`frame` split by the `YYYY-MM` month of its date `column`, rows in their order within a month."""
    if frame.height == 0:
        return {}
    period = pl.col(column).dt.strftime("%Y-%m").alias("__period")
    parts = frame.with_columns(period).partition_by("__period", as_dict=True, maintain_order=True)
    return {str(key[0]): part.drop("__period") for key, part in parts.items()}


def curated_partitions(result: IntakeResult) -> dict[str, pl.DataFrame]:
    """Accepted rows split by period `YYYY-MM` of the kind's main date (`current` for clinics)."""
    schema = schema_for(result.kind)
    if result.accepted.height == 0:
        return {}
    if schema.period_column is None:
        return {CURRENT_PERIOD: result.accepted}
    return month_partitions(result.accepted, schema.period_column)
