"""What a run may write, saved and put back, so many runs can start from one prepared plan.

Used where every case of a fault-injection test must start from the same state: preparing a stack and
ingesting a plan costs far more than putting back the few items and objects a run changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

BATCH = 25  # BatchWriteItem's limit


@dataclass(frozen=True)
class Stores:
    """The tables (every item) and the bucket prefixes (every object) a run may write."""

    s3: Any
    dynamodb: Any
    tables: tuple[str, ...]
    objects: tuple[tuple[str, str], ...]  # (bucket, key prefix)


@dataclass(frozen=True)
class Saved:
    items: dict[str, dict[tuple[str, str], dict[str, Any]]]
    objects: dict[tuple[str, str], tuple[str, bytes]]  # (bucket, key) -> (ETag, body)


def _scan(dynamodb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.update({(i["pk"]["S"], i["sk"]["S"]): i for i in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _listed(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Key -> ETag of every object under the prefix."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return found


def _batch_write(dynamodb: Any, table: str, writes: list[dict[str, Any]]) -> None:
    for start in range(0, len(writes), BATCH):
        pending = {table: writes[start : start + BATCH]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def snapshot(stores: Stores) -> Saved:
    """Every item of the tables and every object under the prefixes."""
    objects = {}
    for bucket, prefix in stores.objects:
        for key, etag in _listed(stores.s3, bucket, prefix).items():
            body = stores.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            objects[(bucket, key)] = (etag, body)
    return Saved({t: _scan(stores.dynamodb, t) for t in stores.tables}, objects)


def restore(stores: Stores, saved: Saved) -> None:
    """Put the saved state back: new items and objects go, changed or missing ones are rewritten."""
    for table, items in saved.items.items():
        now = _scan(stores.dynamodb, table)
        writes = [
            {"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}}
            for key, item in now.items()
            if key not in items
        ]
        writes += [{"PutRequest": {"Item": item}} for key, item in items.items() if now.get(key) != item]
        _batch_write(stores.dynamodb, table, writes)
    for bucket, prefix in stores.objects:
        now_objects = _listed(stores.s3, bucket, prefix)
        kept = {k: v for (b, k), v in saved.objects.items() if b == bucket and k.startswith(prefix)}
        gone = sorted(now_objects.keys() - kept.keys())
        if gone:
            stores.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone]})
        for key, (etag, body) in kept.items():
            if now_objects.get(key) != etag:
                stores.s3.put_object(Bucket=bucket, Key=key, Body=body)


def settle_threads(before: set[threading.Thread], timeout_s: float = 30) -> None:
    """Wait for every thread started since `before` to end (Map workers outlive a failed Map)."""
    deadline = time.monotonic() + timeout_s
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise TimeoutError(f"thread {thread.name} still running after {timeout_s}s")
