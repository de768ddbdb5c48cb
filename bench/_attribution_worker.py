"""Measured process of the attribution benchmark's part figures: member buckets of some months built as one
BuildPart builds them (one service, each file read once for the months), in a process of its own, so its peak
memory is the build's and the interpreter's, not the generated plan's.

Run as `python -m bench._attribution_worker INPUT MONTHS FIRST LAST`, where INPUT is a pickle of the part's
curated objects (`{(bucket, key): bytes}`) and the gap state, MONTHS is comma-separated and FIRST and LAST are
the part's buckets; prints one JSON object (the last line, after the build's own log lines): wall and CPU
seconds, the peak resident memory of the whole process (`VmHWM`: interpreter, polars and the part's bytes
included), the peak above the process's memory before the build, the last month's members and claim lines
read.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    path, months, buckets = Path(argv[0]), argv[1].split(","), range(int(argv[2]), int(argv[3]) + 1)
    from shared.dal.memory import MemoryObjectStore
    from shared.programs.apc import load_apc
    from shared.services.attribution import AttributionService

    objects, gaps = pickle.loads(path.read_bytes())
    store = MemoryObjectStore()
    store.objects = objects
    apc = load_apc()
    service = AttributionService(store=store, curated_bucket="curated", gaps=gaps, apc=apc)
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")  # VmHWM from the resident memory now: the build's peak, not the loading's
    before = _status_mb("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    summary = [service.build_part(month, buckets) for month in months][-1]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _status_mb("VmHWM")
    result = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak,
        "peak_above_mb": max(0.0, peak - before),
        "members": summary.members,
        "claim_lines": summary.claim_lines,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
