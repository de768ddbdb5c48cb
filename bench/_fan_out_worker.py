"""Measured process of the fan-out benchmark: one claims file through the fan-out's steps.

Run as `python -m bench._fan_out_worker PROCESSES FILE`; prints one JSON object. The split and the finish
run in this process (as SplitFile and FinishFile do, one function each); the shards run in `PROCESSES`
worker processes at once (as the Distributed Map runs IngestShard functions), started and warmed before
the clock starts (warm containers). Objects live on local disk; each worker keeps its members' gap state
in a SQLite file of its own (members are disjoint across shards, as DynamoDB's partitions are).
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench._ingest_worker import LANDING, DiskObjectStore, _head, _service
from shared.dal.memory import WriteMeter
from shared.services.ingest import IngestService

KEY = "landing/medical_claims/bench.csv"
_worker: IngestService | None = None


def _start_worker(root: str) -> None:
    global _worker
    base = Path(root)
    scratch = Path(tempfile.mkdtemp(prefix="shard-", dir=base))
    _worker = _service(DiskObjectStore(base / "store"), WriteMeter(), scratch, scratch / "tables.sqlite")


def _warm(_: int) -> float:
    time.sleep(0.2)  # every worker gets one: each builds its service before the clock starts
    return 0.0


def _shard(file_id: str, shard: int) -> dict[str, float]:
    assert _worker is not None
    start, cpu = time.perf_counter(), time.process_time()
    result = _worker.ingest_shard(file_id, shard)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "rows": result.rows_read,
    }


def main(path: Path, processes: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="p4p-fanout-", dir=path.parent) as scratch:
        root = Path(scratch)
        warm = DiskObjectStore(root / "warm")
        warm.put_bytes(LANDING, "landing/medical_claims/warm.csv", _head(path))
        _service(warm, WriteMeter(), root, root / "warm.sqlite").ingest(
            LANDING, "landing/medical_claims/warm.csv"
        )
        store = DiskObjectStore(root / "store")
        landed = root / "store" / LANDING / KEY
        landed.parent.mkdir(parents=True)
        landed.symlink_to(path.resolve())
        service = _service(store, WriteMeter(), root, root / "tables.sqlite")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            processes, mp_context=context, initializer=_start_worker, initargs=(scratch,)
        ) as pool:
            list(pool.map(_warm, range(processes)))
            start, cpu = time.perf_counter(), time.process_time()
            split = service.split(LANDING, KEY)
            split_seconds, split_cpu = time.perf_counter() - start, time.process_time() - cpu
            futures = [pool.submit(_shard, split.file_id, ref.shard) for ref in split.shards]
            shards = [f.result() for f in futures]
            shards_done = time.perf_counter()
            outcome = service.finish_split(LANDING, KEY, split.file_id)
            end = time.perf_counter()
        staged = sum(
            path.stat().st_size for path in (root / "store" / "curated" / "staging").rglob("*.parquet")
        )
        return {
            "seconds": end - start,
            "split_seconds": split_seconds,
            "split_cpu_seconds": split_cpu,
            "shards_seconds": shards_done - start - split_seconds,
            "finish_seconds": end - shards_done,
            "staged_bytes": staged,
            "shard_seconds": [s["seconds"] for s in shards],
            "shard_cpu_seconds": [s["cpu_seconds"] for s in shards],
            "shard_rows": [s["rows"] for s in shards],
            "status": outcome.status.value,
            "accepted": outcome.accepted,
        }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[2]), int(sys.argv[1]))))
