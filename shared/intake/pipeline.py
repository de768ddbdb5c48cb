"""Work on a file's parts in threads, the results in the parts' order.

The ingest applies a file's member groups this way: a group's work is mostly polars (evidence, packing,
Parquet writes), which runs outside the GIL, so with a few groups at once a function uses the cores it has
(a 10 GB Lambda function has 6 vCPUs) instead of one; members are disjoint across groups, so their
gap-state writes never meet. It uploads its output files this way too: each PUT waits on S3.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(work: Callable[[Item], Result], items: Iterable[Item], *, workers: int) -> Iterator[Result]:
    """`work(item)` for each item, up to `workers` at once, yielded in the items' order. At most `workers`
    items are being worked on while the caller holds one result, so memory is bounded by `workers` + 1
    items. A failure is raised once the items already started have finished; no new item starts."""
    if workers <= 1:
        for item in items:
            yield work(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest-work")
    pending: deque[Future[Result]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
