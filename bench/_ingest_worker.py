"""Measured process of the ingest benchmark: one claims file through `IngestService` on in-memory stores.

Run as `POLARS_MAX_THREADS=1 python -m bench._ingest_worker FILE` (one core, as in Lambda); prints one
JSON object: seconds, lines, peak RSS, DynamoDB write units, and where the seconds went (`stages`). The
timed span is `ingest()` from the landed bytes to ACCEPTED: hash, parse, validate, net versions,
evidence, curated Parquet, reports.

`python -m bench._ingest_worker --bare FILE` times the floor instead: polars alone reading the file with
its typed schema and writing it as one snappy Parquet (no validation, no evidence), in the same kind of
one-thread process.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

import shared.services.ingest as ingest_module
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryObjectStore,
    WriteMeter,
)
from shared.intake.kinds import SCHEMAS
from shared.models.files import FileKind
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestService
from shared.services.ingest_versions import ClaimVersionKeeper

LANDING = "landing"
WARM_UP_LINES = 2000


def _service(store: MemoryObjectStore, meter: WriteMeter) -> IngestService:
    gaps = MemoryGapStateRepository(meter)
    return IngestService(
        store=store,
        files=MemoryFileRegistry(meter),
        gaps=gaps,
        catalog=load_catalog(),
        curated_bucket="curated",
        reports_bucket="reports",
        versions=MemoryClaimVersionRepository(gaps),
    )


def _head(path: Path) -> bytes:
    """The header and the first WARM_UP_LINES lines of a CSV: what warms a process before it is timed."""
    with path.open("rb") as handle:
        return b"".join(line for _, line in zip(range(WARM_UP_LINES + 1), handle, strict=False))


@contextmanager
def _stage_clock() -> Iterator[dict[str, float]]:
    """Seconds per stage of the real service run, by wrapping the collaborators the service calls.

    `intake` is parse, validate and reconcile (`read_file`); `parquet` the curated and evidence-log
    writes; `evidence` extraction from the claim lines; `versions` version keeping, netting and the packed
    gap-state writes. What no stage covers (hash, reports, registry) is the run's `seconds` less these.
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

    patch(ingest_module, "read_file", "intake")
    patch(IngestService, "_put_parquet", "parquet")
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
    # A warm Lambda container has imported everything and run polars once; so does this process.
    warm = MemoryObjectStore()
    warm.put_bytes(LANDING, "landing/medical_claims/warm.csv", _head(path))
    _service(warm, WriteMeter()).ingest(LANDING, "landing/medical_claims/warm.csv")
    del warm

    store, meter = MemoryObjectStore(), WriteMeter()
    service = _service(store, meter)
    store.put_bytes(LANDING, "landing/medical_claims/bench.csv", path.read_bytes())
    with _stage_clock() as stages:
        start = time.perf_counter()
        outcome = service.ingest(LANDING, "landing/medical_claims/bench.csv")
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "status": outcome.status.value,
        "evidence": outcome.evidence,
        "write_units": meter.total,
        "write_units_by_item": meter.units,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
