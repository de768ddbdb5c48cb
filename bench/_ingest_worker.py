"""Measured process of the ingest benchmark: one claims file through `IngestService` on in-memory stores.

Run as `POLARS_MAX_THREADS=1 python -m bench._ingest_worker FILE` (one core, as in Lambda); prints one
JSON object: seconds, lines, peak RSS and DynamoDB write units. The timed span is `ingest()` from the
landed bytes to ACCEPTED: hash, parse, validate, net versions, evidence, curated Parquet, reports.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryObjectStore,
    WriteMeter,
)
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestService

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


def main(path: Path) -> dict[str, object]:
    # A warm Lambda container has imported everything and run polars once; so does this process.
    head = b"".join(path.open("rb").readlines()[: WARM_UP_LINES + 1])
    warm = MemoryObjectStore()
    warm.put_bytes(LANDING, "landing/medical_claims/warm.csv", head)
    _service(warm, WriteMeter()).ingest(LANDING, "landing/medical_claims/warm.csv")
    del warm, head

    store, meter = MemoryObjectStore(), WriteMeter()
    service = _service(store, meter)
    store.put_bytes(LANDING, "landing/medical_claims/bench.csv", path.read_bytes())
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
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
