"""Measured process of the ingest benchmarks: one claims file through `IngestService`.

Run as `python -m bench._ingest_worker FILE` (threads as the parent sets `POLARS_MAX_THREADS`); prints one
JSON object: seconds, lines, peak RSS, DynamoDB write units and requests, and where the seconds went
(`stages`). The timed span is `ingest()` from the landed object to ACCEPTED: read and hash, parse,
validate, reconcile, evidence, versions and the packed gap-state writes, curated Parquet, evidence log,
reports.

Objects live on local disk (`DiskObjectStore`), as S3 holds them outside the function: the landed file is
streamed from disk and outputs are written to disk. The packed evidence and claim versions live in a local
SQLite file (`bench._disk_tables`), as DynamoDB holds them, metered as DynamoDB would bill them; so the
peak RSS is the ingest's own.

`python -m bench._ingest_worker --bare FILE` times the floor instead: polars alone reading the file with
its typed schema and writing it as one snappy Parquet (no validation, no evidence), in the same kind of
process.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

import shared.services.ingest as ingest_module
from bench._disk_tables import DiskClaimVersionRepository, DiskGapStateRepository, Requests, connect
from shared.dal.errors import AlreadyRecordedError, NotFoundError
from shared.dal.memory import MemoryFileLog, MemoryFileRegistry, WriteMeter
from shared.dal.objects import ObjectStore
from shared.intake.kinds import SCHEMAS
from shared.intake.spill import KeyedFiles, PeriodSpill
from shared.models.files import FileKind
from shared.models.settings import available_cores
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestService
from shared.services.ingest_versions import ClaimVersionKeeper

LANDING = "landing"
WARM_UP_LINES = 2000


class DiskObjectStore(ObjectStore):
    """Objects as files under a directory: what S3 is to a function, outside its memory."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, bucket: str, key: str) -> Path:
        return self._root / bucket / key

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self._path(bucket, key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError("object not found") from None

    def open_stream(self, bucket: str, key: str) -> tuple[BinaryIO, int]:
        path = self._path(bucket, key)
        if not path.is_file():
            raise NotFoundError("object not found")
        return path.open("rb"), path.stat().st_size

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put_file(
        self, bucket: str, key: str, path: Path, content_type: str = "application/octet-stream"
    ) -> None:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    def put_once(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        if self._path(bucket, key).exists():
            raise AlreadyRecordedError(f"object {key}")
        self.put_bytes(bucket, key, data, content_type)

    def copy(self, bucket: str, key: str, dest_bucket: str, dest_key: str) -> None:
        self.put_file(dest_bucket, dest_key, self._path(bucket, key))

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        base = self._root / bucket
        return sorted(
            str(p.relative_to(base))
            for p in base.rglob("*")
            if p.is_file() and str(p.relative_to(base)).startswith(prefix)
        )


BENCH_MAX_FILE_BYTES = 64 * 1024**3
"""The largest file the benchmark's service takes: past the intake's own limit, which is the time one
function has on Lambda, not what the streaming can hold."""
READ_ON = datetime(2027, 7, 1, tzinfo=UTC)
"""The day the benchmark files are read: after the generated year, as a plan reads its months."""


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: `VmHWM`, which starts afresh at exec. (`ru_maxrss`
    does not: Linux carries it over from the parent that forked the process, here the benchmark that
    has just generated the file.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _service(
    store: ObjectStore, meter: WriteMeter, scratch: Path, tables: Path, requests: Requests | None = None
) -> IngestService:
    db = connect(tables)
    requests = Counter() if requests is None else requests
    return IngestService(
        store=store,
        files=MemoryFileRegistry(meter),
        gaps=DiskGapStateRepository(db, meter, requests),
        catalog=load_catalog(),
        curated_bucket="curated",
        reports_bucket="reports",
        versions=DiskClaimVersionRepository(db, meter, requests),
        log=MemoryFileLog(meter),
        scratch=scratch,
        now=lambda: READ_ON,
        # The benchmark measures the streaming at sizes past what one function applies in its 15 minutes.
        max_file_bytes=BENCH_MAX_FILE_BYTES,
        # As many groups at once as the run has polars threads: one on the one-thread run.
        workers=int(os.environ.get("POLARS_MAX_THREADS") or available_cores()),
    )


def _head(path: Path) -> bytes:
    """The header and the first WARM_UP_LINES lines of a CSV: what warms a process before it is timed."""
    with path.open("rb") as handle:
        return b"".join(line for _, line in zip(range(WARM_UP_LINES + 1), handle, strict=False))


@contextmanager
def _stage_clock() -> Iterator[dict[str, float]]:
    """Seconds per stage of the real service run, by wrapping the collaborators the service calls.

    `intake` is read, parse, validate and reconcile (`stage_file`); `parquet` the curated and evidence-log
    writes (`KeyedFiles.add`, and `PeriodSpill.sink` where a file's curated rows are spilled);
    `evidence` extraction from the claim lines; `versions` version keeping, netting and the packed
    gap-state writes. What no stage covers (reading member groups back, a curated spill, reports,
    registry, rejects) is the run's `seconds` less these. On the one-thread run (one group at a time) the
    stages add up; with groups applied at once, they overlap.
    """
    seconds: dict[str, float] = defaultdict(float)
    restore: list[Callable[[], None]] = []

    def timed(stage: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        return call

    def patch(owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)
        setattr(owner, name, timed(stage, original))
        restore.append(lambda: setattr(owner, name, original))

    patch(ingest_module, "stage_file", "intake")
    patch(PeriodSpill, "sink", "parquet")
    patch(KeyedFiles, "add", "parquet")
    patch(ClaimVersionKeeper, "apply", "versions")
    extractors = ingest_module._EXTRACTORS  # the benchmark times the service's own extractor
    extract = extractors[FileKind.MEDICAL_CLAIMS]
    extractors[FileKind.MEDICAL_CLAIMS] = timed("evidence", extract)
    restore.append(lambda: extractors.__setitem__(FileKind.MEDICAL_CLAIMS, extract))
    try:
        yield seconds
    finally:
        for undo in reversed(restore):
            undo()


def main(path: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="p4p-bench-", dir=path.parent) as scratch:
        root = Path(scratch)
        # A warm Lambda container has imported everything and run polars once; so does this process.
        warm = DiskObjectStore(root / "warm")
        warm.put_bytes(LANDING, "landing/medical_claims/warm.csv", _head(path))
        _service(warm, WriteMeter(), root, root / "warm.sqlite").ingest(
            LANDING, "landing/medical_claims/warm.csv"
        )
        store, meter = DiskObjectStore(root / "store"), WriteMeter()
        landed = root / "store" / LANDING / "landing/medical_claims/bench.csv"
        landed.parent.mkdir(parents=True)
        landed.symlink_to(path.resolve())
        requests: Requests = Counter()
        service = _service(store, meter, root, root / "tables.sqlite", requests)
        baseline_rss = peak_rss_mb()
        with _stage_clock() as stages:
            start = time.perf_counter()
            cpu = time.process_time()
            outcome = service.ingest(LANDING, "landing/medical_claims/bench.csv")
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu
        return {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "status": outcome.status.value,
            "accepted": outcome.accepted,
            "evidence": outcome.evidence,
            "write_units": meter.total,
            "write_units_by_item": meter.units,
            "dynamodb_requests": dict(requests),
            "peak_rss_mb": peak_rss_mb(),
            "warm_rss_mb": baseline_rss,
            "stages": dict(stages),
        }


def bare(path: Path) -> dict[str, object]:
    """Seconds for polars alone to read the file with its typed schema and write one snappy Parquet."""
    schema = SCHEMAS[FileKind.MEDICAL_CLAIMS].polars_schema()
    pl.read_csv(_head(path), schema=schema)  # warm, as the ingest is
    data = path.read_bytes()
    start = time.perf_counter()
    frame = pl.read_csv(data, schema=schema)
    frame.write_parquet(io.BytesIO(), compression="snappy")
    return {"seconds": time.perf_counter() - start, "rows": frame.height}


if __name__ == "__main__":
    if sys.argv[1] == "--bare":
        print(json.dumps(bare(Path(sys.argv[2]))))
    else:
        print(json.dumps(main(Path(sys.argv[1]))))
