"""Handlers of the fixture stack; the local runtime imports them by the template's `Handler` strings."""

from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities.parser.models import S3Model

CALLS: list[tuple[str, Any]] = []
_lock = threading.Lock()
_flaky_seen: set[str] = set()


class TransientError(Exception):
    """Fails the first attempt so the state machine's Retry runs."""


class PlannedFailureError(Exception):
    """Raised on request so the state machine's Catch runs."""


def _record(what: str, detail: Any) -> None:
    with _lock:
        CALLS.append((what, detail))


def calls(what: str) -> list[Any]:
    """Details recorded under one name, in call order."""
    with _lock:
        return [detail for name, detail in CALLS if name == what]


def reset() -> None:
    """Forget recorded calls between tests."""
    with _lock:
        CALLS.clear()
        _flaky_seen.clear()


def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("Event") == "s3:TestEvent":
            _record("ingest.test_event", record["messageId"])
            continue
        # Parsed as the project's handlers parse it, so an incomplete notification fails here too.
        for notification in S3Model.model_validate(body).Records:
            assert notification.s3.object is not None
            key = unquote_plus(notification.s3.object.key)
            if "/crash/" in key:
                raise PlannedFailureError("crash requested by key")
            if "/reject/" in key:
                _record("ingest.rejected", (key, record["attributes"]["ApproximateReceiveCount"]))
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            boto3.client("dynamodb").put_item(
                TableName=os.environ["TABLE_NAME"],
                Item={
                    "pk": {"S": f"FILE#{key}"},
                    "sk": {"S": "FILE"},
                    "request": {"S": context.aws_request_id},
                },
            )
            _record("ingest.accepted", (key, record["eventSource"], record["eventSourceARN"]))
    return {"batchItemFailures": failures}


def open_run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("open_run", event)
    if event.get("explode"):
        raise PlannedFailureError("explode requested")
    token = event.get("flaky")
    if token and token not in _flaky_seen:
        _flaky_seen.add(token)
        raise TransientError("first attempt fails")
    return {"run_id": f"run-{event.get('period', 'none')}"}


def plan_shards(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_id = event["run"]["run_id"]
    manifest = [
        {"shard_id": f"s{i}", "members_key": f"runs/{run_id}/shards/s{i}.json"}
        for i in range(event["shards"])
    ]
    key = f"runs/{run_id}/shards.json"
    bucket = os.environ["WORK_BUCKET"]
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    return {"bucket": bucket, "manifest_key": key}


def earn_shard(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("earn_shard", event["shard"]["shard_id"])
    return {"shard_id": event["shard"]["shard_id"], "run_id": event["run"]["run_id"]}


def fail_run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("fail_run", event["error"]["Error"])
    return {"status": "FAILED"}
